#!/bin/bash
# account import: every kind of malformed CSV is reported with its line and
# reason, every good row is imported, exit 1 when any row was refused.
. "$(dirname "$0")/lib.sh"
write_conf

CSV=$SCRATCH/in.csv
{
	printf 'id,email,name,lang\n'                                  # 1
	printf 'a1,a1@example.org,Anna,de\n'                           # 2
	printf 'a2,a2@example.org,"Berg, Bernd",en\r\n'                # 3 CRLF, quoted comma
	printf '\n'                                                    # 4 empty line
	printf 'a3,a3@example.org,"Carla ""CC"" Cruz",\n'              # 5 "" escape, empty lang
	printf 'a4,a4@example.org,"unbalanced,de\n'                    # 6 unbalanced quote
	printf 'a5,a5@example.org,Too,de,extra\n'                      # 7 wrong column count
	printf 'a6,a6@example.org\n'                                   # 8 too few columns
	printf 'a7,a7@example.org,%s,de\n' "$(head -c 1048576 /dev/zero | tr '\0' x)"  # 9 1 MB field
	printf 'a8,a8@example.org,\xff\xfe bad,de\n'                   # 10 invalid UTF-8
	printf 'a9,not-an-address,Nine,de\n'                           # 11 invalid address
	printf 'a10,%s@example.org,Ten,de\n' "$(printf 'l%.0s' $(seq 65))"   # 12 local part 65
	printf 'a11,a11@%s.org,Eleven,xx\n' "$(printf 'd%.0s' $(seq 64))"    # 13 label 64 + bad lang
	printf 'a12,a12@example.org,"x"y,de\n'                         # 14 text after quote
	printf 'a 13,a13@example.org,Space,de\n'                       # 15 id with a space
	printf 'a14,a14@example.org,Line\x01Break,de\n'                # 16 control character
	printf 'a15,a15@example.org,Müller,en'                         # 17 no final newline
} > "$CSV"

run ctl account import "$CSV"
expect_rc 1 "import with bad rows exits 1"
expect_match "$OUT" "imported 15 rows: 4 new, 0 updated or unchanged, 11 refused" "import summary"
for line in 6 7 8 9 10 11 12 13 14 15 16; do
	expect_match "$ERR" "line $line: " "line $line reported"
done
expect_no_match "$ERR" "line (2|3|4|5|17):" "good lines not reported"
expect_match "$ERR" "line 6: .*quot" "unbalanced quote reason"
expect_match "$ERR" "line 7: expected 4 fields, got 5" "extra column reason"
expect_match "$ERR" "line 9: .*4096" "1 MB field reason"
expect_match "$ERR" "line 10: .*UTF-8" "invalid UTF-8 reason"
expect_match "$ERR" "line 12: .*64" "over-long local part reason"
expect_match "$ERR" "line 13: " "over-long label reported"
run sqlite3 "$DB" "SELECT id || '|' || email || '|' || ifnull(name,'') || '|' || lang FROM account ORDER BY id"
expect_eq "$OUT" "a1|a1@example.org|Anna|de
a15|a15@example.org|Müller|en
a2|a2@example.org|Berg, Bernd|en
a3|a3@example.org|Carla \"CC\" Cruz|de" "exactly the good rows, decoded"

# Upsert: importing again changes only what differs; the file on stdin.
printf 'email,id\r\nnew1@example.org,a1\r\na2@example.org,a2\r\n' | {
	run ctl account import -
	expect_rc 0 "re-import from stdin, columns in another order, CRLF"
	expect_match "$OUT" "2 rows: 0 new, 2 updated" "re-import summary"
}
run ctl account show a1
expect_match "$OUT" "new1@example.org" "upsert changed the email"

# Bad headers stop before anything is imported.
printf 'id,mail\nz1,z1@example.org\n' > "$CSV"
run ctl account import "$CSV"
expect_rc 2 "unknown column"
expect_match "$ERR" "unknown column 'mail'" "unknown column message"
printf 'name,lang\nZ,de\n' > "$CSV"
run ctl account import "$CSV"
expect_rc 2 "header without id and email"
: > "$CSV"
run ctl account import "$CSV"
expect_rc 2 "empty file"
expect_match "$ERR" "empty input" "empty file message"
run ctl account import "$SCRATCH/missing.csv"
expect_rc 2 "missing file"
run sqlite3 "$DB" "SELECT count(*) FROM account"
expect_eq "$OUT" "4" "nothing lost or added by refused imports"
finish
