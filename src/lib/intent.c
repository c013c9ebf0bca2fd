/*
 * intent.c - what a person's own words say about a consent request.
 *
 * Implements intent.h. The text is validated as UTF-8, invisible format
 * characters are dropped (U+00AD, U+200B..U+200F, U+2060..U+2064, U+FEFF,
 * ...: "ni<ZWSP>cht" is "nicht"), and the rest is normalised into words
 * (ASCII lowercase, ä/ö/ü -> ae/oe/ue, ß -> ss, apostrophes inside words
 * dropped: "don't" = "don’t" = "dont"). The words are matched against one
 * table of word sequences, longest match first. Every other character
 * separates words, so "ja" never matches inside "Januar" and "no" never
 * inside "nothing"; a hyphen separates too ("Nein-Sager" reads as "nein
 * sager", a refusal, which is never a grant).
 *
 * Promises:
 *  - INTENT_YES only when exactly one kind of answer (yes) is present, no
 *    negation stands anywhere in the text, there is no question mark,
 *    condition or doubt word, at most INTENT_WORDS_MAX counted words, AND
 *    EVERY WORD IS KNOWN: part of a table entry (yes phrase, greeting,
 *    sign-off, a neutral word such as "ich", "meine", "Daten", "the"), a
 *    32-hex-digit token, or a name in one of three places (see "names").
 *    One unknown word makes a would-be yes unclear ("unknown word 'xyz'"):
 *    a refusal the table does not know ("Ja, ich verweigere ...") must not
 *    slip through as a grant. When in doubt the answer is INTENT_UNCLEAR.
 *  - Unknown words never block a no or a withdrawal (that is the safe
 *    direction), and neither does length: a withdrawal letter of any
 *    length (up to INTENT_TEXT_MAX bytes) with withdrawal words and no yes,
 *    no, condition, doubt, question or negated withdrawal is a withdrawal.
 *    Long texts are read in overlapping chunks of WORDS_CAP words, with
 *    MARGIN words of context on either side of the part each chunk judges,
 *    so every rule sees the same neighbourhood as in a short text.
 *  - A yes-phrase with a negation among the 3 words before it is a no
 *    ("keineswegs einverstanden"). A negated no or a negated withdrawal
 *    (negation within 3 words before or after it, or inside a separable
 *    verb: "ziehe sie nicht zurück") is unclear. "nichts"/"nothing"/"none"
 *    negate nothing by themselves but still make a yes unclear ("I agree
 *    to nothing").
 *  - Withdrawal: the withdrawal words, German separable verbs with their
 *    particle later in the same clause ("ziehe ... zurück", "nehme ...
 *    zurück", "melde ... ab", "trage ... aus", "höre ... auf"; likewise the
 *    refusal "lehne ... ab" and the yes "stimme ... zu", "willige ... ein",
 *    a no when negated inside: "stimme der Verknüpfung nicht zu"),
 *    "nicht mehr"/"no longer" (which also turns a following yes-phrase
 *    into a withdrawal: "Ich bin nicht mehr einverstanden"), and a refusal
 *    or negated yes followed by "anymore" in the same clause ("I don't
 *    agree anymore"). A bare negation with "anymore" ("I don't want this
 *    anymore") stays unclear: "I don't have questions anymore" is no
 *    withdrawal.
 *  - Names: a yes may carry names the table cannot know, but only where
 *    names stand, and only a few (the answer must not change when ASCII
 *    letters change case - the fuzz target checks it -, so capitalisation
 *    cannot tell a name from a word):
 *      after a salutation, up to its clause end ("Liebe Frau Weber, ja"):
 *        up to HELLO_NAMES words;
 *      after the first sign-off that follows every deciding word: after a
 *        closing ("Viele Grüße", "Best regards", "i. A.") or a signature
 *        delimiter ("-- " at the start of a line) up to CLOSE_NAMES words
 *        plus numbers and signature words (Tel., GmbH, weekdays, months,
 *        "Gesendet", "Uhr"): a signature block; after thanks or good
 *        wishes only ("Ja, danke! Anna") up to THANKS_NAMES words; a
 *        neutral word other than fillers and titles ("und", "der", "Dr.",
 *        "Team") makes it a sentence, not a signature: "Grüße, Anna, bin
 *        mir unschlüssig" is unclear;
 *      the last line of the text, when it holds nothing but up to
 *        LINE_NAMES unknown words ("Yes, I agree.\n\nJohn").
 *    "PS" ends a signature: what follows it is text again. Everywhere
 *    else an unknown word stops a yes.
 *  - Greetings, thanks and courtesy words neither count as words nor
 *    decide anything; neutral words count but decide nothing. German "ja"
 *    after a counted word inside a clause is a modal particle ("Das ist ja
 *    toll"), a neutral word.
 *  - No allocation: the words of one chunk live in fixed arrays on the
 *    stack (about 16 KiB); every byte is read at most a few times (UTF-8
 *    check, question scan, and at most two chunks).
 *
 * Table patterns are lowercase ASCII words separated by single spaces; an
 * uppercase A, O or U stands for an umlaut and matches "ae"/"a", "oe"/"o",
 * "ue"/"u" in the text, so "zurUckziehen" accepts "zurückziehen",
 * "zurueckziehen" and "zuruckziehen".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "consentd/intent.h"
#include "consentd/text.h"

#define WORD_CAP      40    /* bytes kept per normalised word (longer: odd) */
#define WORDS_CAP     128   /* words per chunk */
#define YES_WORDS_MAX (4 * INTENT_WORDS_MAX)  /* all words of a yes, greetings included */
#define MARGIN        16    /* context words on either side of a chunk's core */
#define NEG_WINDOW    3     /* words between a negation and what it negates */
#define SEP_GAP       8     /* words between a separable verb and its particle */
#define ANYMORE_GAP   8     /* words between a refusal and a trailing "anymore" */
#define HEX_WORD      32    /* a token reference: neutral */
#define HELLO_NAMES   3     /* unknown words after a salutation */
#define THANKS_NAMES  3     /* unknown words after thanks at the end */
#define CLOSE_NAMES   5     /* unknown words in a signature after a closing */
#define LINE_NAMES    3     /* unknown words alone on the last line */
#define UNKNOWN_SHOWN 24    /* bytes of an unknown word quoted in the reason */

/* A chunk must leave room for a core between its two margins, and a yes
 * (never chunked) must fit into one chunk. */
_Static_assert(WORDS_CAP >= 6 * MARGIN, "chunk too small for its margins");
_Static_assert(YES_WORDS_MAX <= WORDS_CAP, "a yes must fit into one chunk");
_Static_assert(SEP_GAP + NEG_WINDOW < MARGIN && ANYMORE_GAP + NEG_WINDOW < MARGIN,
               "context must fit into the margin");

enum kind {
	K_NEUTRAL,   /* greeting, thanks, courtesy: not counted */
	K_KNOWN,     /* neutral word (pronoun, article, subject matter): counted */
	K_SIGWORD,   /* known only inside a signature block: Tel, GmbH, Montag */
	K_YES,
	K_NO,
	K_WITHDRAW,
	K_CEASE,     /* "nicht mehr", "no longer": withdrawal, absorbs a yes */
	K_ANYMORE,   /* "anymore": turns a refusal before it into a withdrawal */
	K_NEG,       /* negation: nicht, not, don't, keineswegs, ... */
	K_NOTHING,   /* nichts, nothing, none: blocks a yes, negates nothing */
	K_COND,      /* condition: wenn, aber, if, but, wobei, ... */
	K_DOUBT,     /* vielleicht, maybe, not sure, ... */
	K_SEP,       /* head of a separable verb: "lehne" (... "ab") */
	K_PS,        /* "PS": what follows is text again, not a signature */
	K_OTHER      /* any other word (not in the table) */
};

enum role {
	R_NONE,
	R_HELLO,     /* salutation: names may follow up to the clause end */
	R_THANKS,    /* thanks, good wishes: a weak sign-off */
	R_CLOSE      /* closing formula: a signature block may follow */
};

struct phrase {
	const char *pat;
	unsigned char kind;
	unsigned char role;       /* K_SEP: the kind it becomes (K_NO, K_WITHDRAW) */
	const char *particle;     /* K_SEP: the particle that completes it */
};

#define P(p, k)       { p, k, R_NONE, NULL }
#define HELLO(p)      { p, K_NEUTRAL, R_HELLO, NULL }
#define THANKS(p)     { p, K_NEUTRAL, R_THANKS, NULL }
#define CLOSE(p)      { p, K_NEUTRAL, R_CLOSE, NULL }
#define SEP(p, part, k) { p, K_SEP, k, part }

static const struct phrase phrases[] = {
	/* salutations */
	HELLO("hallo"), HELLO("hi"), HELLO("hello"), HELLO("hey"),
	HELLO("moin"), HELLO("servus"), HELLO("guten tag"),
	HELLO("guten morgen"), HELLO("guten abend"), HELLO("good morning"),
	HELLO("good afternoon"), HELLO("good evening"), HELLO("liebe"),
	HELLO("lieber"), HELLO("liebes"), HELLO("dear"),
	HELLO("sehr geehrte"), HELLO("sehr geehrter"), HELLO("sehr geehrtes"),
	HELLO("grUss gott"),
	P("damen und herren", K_NEUTRAL), P("ladies and gentlemen", K_NEUTRAL),

	/* thanks */
	THANKS("danke"), THANKS("danke sehr"), THANKS("danke schOn"),
	THANKS("dankeschOn"), THANKS("vielen dank"),
	THANKS("vielen lieben dank"), THANKS("herzlichen dank"),
	THANKS("besten dank"), THANKS("thanks"), THANKS("thank you"),
	THANKS("thank you very much"), THANKS("thanks a lot"),
	THANKS("many thanks"), THANKS("thx"),
	THANKS("schOnen tag"), THANKS("schOnen tag noch"),
	THANKS("schOnes wochenende"), THANKS("have a nice day"),
	THANKS("have a great day"),

	/* closing formulas */
	CLOSE("mfg"), CLOSE("lg"), CLOSE("vg"), CLOSE("bg"),
	CLOSE("mit freundlichen grUssen"), CLOSE("mit freundlichem grUss"),
	CLOSE("freundliche grUsse"), CLOSE("viele grUsse"),
	CLOSE("viele liebe grUsse"), CLOSE("liebe grUsse"),
	CLOSE("beste grUsse"), CLOSE("herzliche grUsse"),
	CLOSE("schOne grUsse"), CLOSE("grUsse"), CLOSE("grUss"),
	CLOSE("herzlichst"), CLOSE("tschUss"), CLOSE("ciao"), CLOSE("bye"),
	CLOSE("best"), CLOSE("best regards"), CLOSE("kind regards"),
	CLOSE("warm regards"), CLOSE("regards"), CLOSE("best wishes"),
	CLOSE("cheers"), CLOSE("sincerely"), CLOSE("yours sincerely"),
	CLOSE("yours truly"), CLOSE("yours"),
	CLOSE("i a"), CLOSE("i v"), CLOSE("ppa"), CLOSE("im auftrag"),
	CLOSE("in vertretung"), CLOSE("bis bald"), CLOSE("bis dann"),
	P("ps", K_PS), P("p s", K_PS), P("pps", K_PS), P("nachtrag", K_PS),

	/* courtesy */
	P("bitte", K_NEUTRAL), P("bitte schOn", K_NEUTRAL),
	P("please", K_NEUTRAL), P("gerne", K_NEUTRAL), P("gern", K_NEUTRAL),
	P("sehr gerne", K_NEUTRAL), P("sure", K_NEUTRAL),
	P("kein problem", K_NEUTRAL), P("no problem", K_NEUTRAL),
	P("no worries", K_NEUTRAL),
	P("von meinem iphone gesendet", K_NEUTRAL),
	P("von meinem ipad gesendet", K_NEUTRAL),
	P("gesendet von meinem iphone", K_NEUTRAL),
	P("sent from my iphone", K_NEUTRAL), P("sent from my ipad", K_NEUTRAL),

	/* neutral words, German: counted, never deciding */
	P("ich", K_KNOWN), P("bin", K_KNOWN), P("hiermit", K_KNOWN),
	P("damit", K_KNOWN), P("dabei", K_KNOWN), P("dazu", K_KNOWN),
	P("dass", K_KNOWN), P("das", K_KNOWN), P("dies", K_KNOWN),
	P("diese", K_KNOWN), P("diesem", K_KNOWN), P("diesen", K_KNOWN),
	P("dieser", K_KNOWN), P("dieses", K_KNOWN),
	P("die", K_KNOWN), P("der", K_KNOWN), P("den", K_KNOWN),
	P("dem", K_KNOWN), P("des", K_KNOWN), P("es", K_KNOWN),
	P("mein", K_KNOWN), P("meine", K_KNOWN), P("meiner", K_KNOWN),
	P("meinen", K_KNOWN), P("meinem", K_KNOWN), P("meines", K_KNOWN),
	P("ihr", K_KNOWN), P("ihre", K_KNOWN), P("ihrer", K_KNOWN),
	P("ihren", K_KNOWN), P("ihrem", K_KNOWN), P("ihres", K_KNOWN),
	P("ihnen", K_KNOWN), P("sie", K_KNOWN), P("wir", K_KNOWN),
	P("uns", K_KNOWN), P("mir", K_KNOWN), P("mich", K_KNOWN),
	P("zu", K_KNOWN), P("zur", K_KNOWN), P("zum", K_KNOWN),
	P("und", K_KNOWN), P("im", K_KNOWN), P("in", K_KNOWN),
	P("mit", K_KNOWN), P("fUr", K_KNOWN), P("von", K_KNOWN),
	P("vom", K_KNOWN), P("auch", K_KNOWN), P("hier", K_KNOWN),
	P("so", K_KNOWN), P("sehr", K_KNOWN), P("voll", K_KNOWN),
	P("ganz", K_KNOWN), P("absolut", K_KNOWN), P("natUrlich", K_KNOWN),
	P("selbstverstAndlich", K_KNOWN), P("klar", K_KNOWN),
	P("sicher", K_KNOWN), P("gut", K_KNOWN), P("alles", K_KNOWN),
	P("passt", K_KNOWN), P("in ordnung", K_KNOWN),
	P("doch", K_KNOWN), P("mOchte", K_KNOWN), P("will", K_KNOWN),
	P("habe", K_KNOWN), P("hab", K_KNOWN), P("nachgedacht", K_KNOWN),
	P("ist", K_KNOWN), P("sind", K_KNOWN),
	P("werden", K_KNOWN), P("wird", K_KNOWN),
	P("einwilligung", K_KNOWN), P("zustimmung", K_KNOWN),
	P("einverstAndnis", K_KNOWN), P("verknUpfung", K_KNOWN),
	P("verknUpft", K_KNOWN), P("verknUpfen", K_KNOWN),
	P("daten", K_KNOWN), P("personenbezogenen", K_KNOWN),
	P("personenbezogene", K_KNOWN), P("protokolldaten", K_KNOWN),
	P("logdaten", K_KNOWN), P("konto", K_KNOWN),
	P("kundenkonto", K_KNOWN), P("verarbeitung", K_KNOWN),
	P("anfrage", K_KNOWN), P("nachricht", K_KNOWN), P("e mail", K_KNOWN),
	P("frau", K_KNOWN), P("herr", K_KNOWN), P("herrn", K_KNOWN),
	P("dr", K_KNOWN), P("prof", K_KNOWN), P("team", K_KNOWN),
	P("zusammen", K_KNOWN), P("token", K_KNOWN), P("referenz", K_KNOWN),
	P("ref", K_KNOWN), P("ab sofort", K_KNOWN), P("ab jetzt", K_KNOWN),

	/* neutral words, English */
	P("i", K_KNOWN), P("im", K_KNOWN), P("i m", K_KNOWN), P("am", K_KNOWN),
	P("it", K_KNOWN), P("its", K_KNOWN), P("this", K_KNOWN),
	P("that", K_KNOWN), P("thats", K_KNOWN), P("with", K_KNOWN),
	P("to", K_KNOWN), P("of", K_KNOWN), P("the", K_KNOWN),
	P("my", K_KNOWN), P("your", K_KNOWN), P("and", K_KNOWN),
	P("a", K_KNOWN), P("an", K_KNOWN), P("for", K_KNOWN),
	P("me", K_KNOWN), P("we", K_KNOWN), P("us", K_KNOWN),
	P("you", K_KNOWN), P("is", K_KNOWN), P("fine", K_KNOWN),
	P("all", K_KNOWN), P("good", K_KNOWN), P("great", K_KNOWN),
	P("go ahead", K_KNOWN), P("absolutely", K_KNOWN),
	P("totally", K_KNOWN), P("fully", K_KNOWN), P("completely", K_KNOWN),
	P("definitely", K_KNOWN), P("certainly", K_KNOWN),
	P("of course", K_KNOWN), P("happy", K_KNOWN), P("glad", K_KNOWN),
	P("hereby", K_KNOWN), P("do", K_KNOWN), P("consent", K_KNOWN),
	P("data", K_KNOWN), P("personal", K_KNOWN), P("log", K_KNOWN),
	P("logs", K_KNOWN), P("linking", K_KNOWN), P("linked", K_KNOWN),
	P("link", K_KNOWN), P("being", K_KNOWN), P("be", K_KNOWN),
	P("processing", K_KNOWN), P("account", K_KNOWN),
	P("request", K_KNOWN), P("email", K_KNOWN), P("mail", K_KNOWN),
	P("message", K_KNOWN), P("mr", K_KNOWN), P("mrs", K_KNOWN),
	P("ms", K_KNOWN), P("everyone", K_KNOWN), P("there", K_KNOWN),
	P("reference", K_KNOWN), P("from now on", K_KNOWN),

	/* signature words: known only in a signature block */
	P("tel", K_SIGWORD), P("telefon", K_SIGWORD), P("fon", K_SIGWORD),
	P("phone", K_SIGWORD), P("mobil", K_SIGWORD), P("mobile", K_SIGWORD),
	P("handy", K_SIGWORD), P("fax", K_SIGWORD), P("www", K_SIGWORD),
	P("gmbh", K_SIGWORD), P("ag", K_SIGWORD), P("kg", K_SIGWORD),
	P("ug", K_SIGWORD), P("ev", K_SIGWORD), P("e v", K_SIGWORD),
	P("ltd", K_SIGWORD), P("inc", K_SIGWORD), P("llc", K_SIGWORD),
	P("co", K_SIGWORD), P("gesendet", K_SIGWORD), P("sent", K_SIGWORD),
	P("uhr", K_SIGWORD), P("um", K_SIGWORD), P("at", K_SIGWORD),
	P("montag", K_SIGWORD), P("dienstag", K_SIGWORD),
	P("mittwoch", K_SIGWORD), P("donnerstag", K_SIGWORD),
	P("freitag", K_SIGWORD), P("samstag", K_SIGWORD),
	P("sonntag", K_SIGWORD), P("monday", K_SIGWORD),
	P("tuesday", K_SIGWORD), P("wednesday", K_SIGWORD),
	P("thursday", K_SIGWORD), P("friday", K_SIGWORD),
	P("saturday", K_SIGWORD), P("sunday", K_SIGWORD),
	P("januar", K_SIGWORD), P("februar", K_SIGWORD), P("mArz", K_SIGWORD),
	P("april", K_SIGWORD), P("mai", K_SIGWORD), P("juni", K_SIGWORD),
	P("juli", K_SIGWORD), P("august", K_SIGWORD),
	P("september", K_SIGWORD), P("oktober", K_SIGWORD),
	P("november", K_SIGWORD), P("dezember", K_SIGWORD),
	P("january", K_SIGWORD), P("february", K_SIGWORD),
	P("march", K_SIGWORD), P("may", K_SIGWORD), P("june", K_SIGWORD),
	P("july", K_SIGWORD), P("october", K_SIGWORD),
	P("december", K_SIGWORD),

	/* yes */
	P("ja", K_YES), P("jawohl", K_YES), P("einverstanden", K_YES),
	P("ich stimme zu", K_YES), P("stimme zu", K_YES),
	P("ich stimme dem zu", K_YES), P("stimme dem zu", K_YES),
	P("ich stimme hiermit zu", K_YES), P("stimme hiermit zu", K_YES),
	P("ich willige ein", K_YES), P("willige ein", K_YES),
	P("ich willige hiermit ein", K_YES), P("zustimmen", K_YES),
	P("ok", K_YES), P("okay", K_YES), P("yes", K_YES),
	P("agree", K_YES), P("i agree", K_YES), P("agreed", K_YES),
	P("i consent", K_YES), P("i hereby consent", K_YES),
	P("i give my consent", K_YES),

	/* no */
	P("nein", K_NO), P("no", K_NO), P("nope", K_NO), P("nOe", K_NO),
	P("nee", K_NO), P("nah", K_NO), P("nay", K_NO),
	P("nicht einverstanden", K_NO),
	P("ich stimme nicht zu", K_NO), P("stimme nicht zu", K_NO),
	P("ich stimme dem nicht zu", K_NO), P("stimme dem nicht zu", K_NO),
	P("ich willige nicht ein", K_NO), P("willige nicht ein", K_NO),
	P("ablehnen", K_NO), P("ablehne", K_NO), P("lehne ab", K_NO),
	P("ich lehne ab", K_NO), P("ich lehne das ab", K_NO),
	P("lehne das ab", K_NO), P("ich lehne dies ab", K_NO),
	P("abgelehnt", K_NO), P("ablehnung", K_NO),
	P("verweigere", K_NO), P("verweigern", K_NO), P("verweigert", K_NO),
	P("verweigerung", K_NO),
	P("auf keinen fall", K_NO), P("auf gar keinen fall", K_NO),
	P("keinesfalls", K_NO), P("natUrlich nicht", K_NO),
	P("bestimmt nicht", K_NO), P("sicher nicht", K_NO),
	P("i do not agree", K_NO), P("i dont agree", K_NO),
	P("i don t agree", K_NO), P("i do not consent", K_NO),
	P("i dont consent", K_NO), P("i don t consent", K_NO),
	P("disagree", K_NO), P("i disagree", K_NO),
	P("decline", K_NO), P("i decline", K_NO), P("declined", K_NO),
	P("refuse", K_NO), P("i refuse", K_NO),
	P("reject", K_NO), P("i reject", K_NO), P("rejection", K_NO),
	P("withhold", K_NO), P("i withhold", K_NO), P("withheld", K_NO),
	P("absolutely not", K_NO), P("definitely not", K_NO),
	P("certainly not", K_NO), P("of course not", K_NO),
	P("dagegen", K_NO), P("against", K_NO),

	/* withdraw */
	P("widerrufen", K_WITHDRAW), P("widerrufe", K_WITHDRAW),
	P("ich widerrufe", K_WITHDRAW), P("widerruf", K_WITHDRAW),
	P("zurUckziehen", K_WITHDRAW), P("zurUckziehe", K_WITHDRAW),
	P("zurUckgezogen", K_WITHDRAW), P("zurUcknehmen", K_WITHDRAW),
	P("zurUcknehme", K_WITHDRAW), P("zurUckgenommen", K_WITHDRAW),
	P("ziehe zurUck", K_WITHDRAW),
	P("ziehe meine einwilligung zurUck", K_WITHDRAW),
	P("ziehe meine zustimmung zurUck", K_WITHDRAW),
	P("revoke", K_WITHDRAW), P("revoked", K_WITHDRAW),
	P("withdraw", K_WITHDRAW), P("withdrawn", K_WITHDRAW),
	P("unsubscribe", K_WITHDRAW), P("stop", K_WITHDRAW),
	P("stopp", K_WITHDRAW), P("stoppen", K_WITHDRAW),
	P("stoppt", K_WITHDRAW), P("stoppe", K_WITHDRAW),
	P("beenden", K_WITHDRAW), P("beende", K_WITHDRAW),
	P("aufhOren", K_WITHDRAW), P("cancel", K_WITHDRAW),
	P("abmelden", K_WITHDRAW), P("abbestellen", K_WITHDRAW),
	P("austragen", K_WITHDRAW), P("opt out", K_WITHDRAW),
	P("optout", K_WITHDRAW),
	P("keine mails mehr", K_WITHDRAW), P("keine e mails mehr", K_WITHDRAW),
	P("keine emails mehr", K_WITHDRAW), P("no more emails", K_WITHDRAW),
	P("no more e mails", K_WITHDRAW), P("no more mails", K_WITHDRAW),
	P("widerspreche", K_WITHDRAW), P("widersprechen", K_WITHDRAW),
	P("widerspruch", K_WITHDRAW), P("i object", K_WITHDRAW),
	P("object to", K_WITHDRAW), P("objection", K_WITHDRAW),
	P("lOschen", K_WITHDRAW), P("delete", K_WITHDRAW),
	P("remove", K_WITHDRAW), P("take me off", K_WITHDRAW),

	/* separable verbs: the head, completed by its particle later in
	 * the same clause ("Ich lehne die Verknüpfung ab.") */
	SEP("stimme", "zu", K_YES), SEP("stimmen", "zu", K_YES),
	SEP("willige", "ein", K_YES), SEP("willigen", "ein", K_YES),
	SEP("lehne", "ab", K_NO), SEP("lehnen", "ab", K_NO),
	SEP("lehnt", "ab", K_NO),
	SEP("ziehe", "zurUck", K_WITHDRAW), SEP("ziehen", "zurUck", K_WITHDRAW),
	SEP("nehme", "zurUck", K_WITHDRAW), SEP("nehmen", "zurUck", K_WITHDRAW),
	SEP("trete", "zurUck", K_WITHDRAW),
	SEP("melde", "ab", K_WITHDRAW), SEP("melden", "ab", K_WITHDRAW),
	SEP("trage", "aus", K_WITHDRAW), SEP("tragen", "aus", K_WITHDRAW),
	SEP("hOre", "auf", K_WITHDRAW), SEP("hOrt", "auf", K_WITHDRAW),
	SEP("hOren", "auf", K_WITHDRAW),

	/* no longer */
	P("nicht mehr", K_CEASE), P("nicht lAnger", K_CEASE),
	P("no longer", K_CEASE), P("not anymore", K_CEASE),
	P("not any longer", K_CEASE),
	P("anymore", K_ANYMORE), P("any longer", K_ANYMORE),

	/* negations */
	P("nicht", K_NEG), P("nich", K_NEG), P("kein", K_NEG),
	P("keine", K_NEG), P("keinen", K_NEG), P("keinem", K_NEG),
	P("keiner", K_NEG), P("keines", K_NEG), P("nie", K_NEG),
	P("niemals", K_NEG), P("keineswegs", K_NEG), P("mitnichten", K_NEG),
	P("not", K_NEG), P("dont", K_NEG),
	P("don t", K_NEG), P("doesnt", K_NEG), P("doesn t", K_NEG),
	P("didnt", K_NEG), P("didn t", K_NEG), P("cant", K_NEG),
	P("can t", K_NEG), P("cannot", K_NEG), P("wont", K_NEG),
	P("won t", K_NEG), P("wouldnt", K_NEG), P("wouldn t", K_NEG),
	P("isnt", K_NEG), P("isn t", K_NEG), P("never", K_NEG),
	P("neither", K_NEG), P("nor", K_NEG),
	P("nichts", K_NOTHING), P("nix", K_NOTHING), P("nothing", K_NOTHING),
	P("none", K_NOTHING),

	/* conditions */
	P("wenn", K_COND), P("falls", K_COND), P("aber", K_COND),
	P("jedoch", K_COND), P("sofern", K_COND), P("soweit", K_COND),
	P("solange", K_COND), P("vorausgesetzt", K_COND),
	P("ausser", K_COND), P("ausgenommen", K_COND),
	P("allerdings", K_COND), P("bedingung", K_COND), P("ob", K_COND),
	P("wobei", K_COND), P("obwohl", K_COND), P("obgleich", K_COND),
	P("trotzdem", K_COND), P("dennoch", K_COND), P("ohne", K_COND),
	P("es sei denn", K_COND),
	P("nicht mehr als", K_COND), P("nicht lAnger als", K_COND),
	P("if", K_COND), P("but", K_COND), P("unless", K_COND),
	P("only if", K_COND), P("provided", K_COND), P("except", K_COND),
	P("however", K_COND), P("as long as", K_COND),
	P("whether", K_COND), P("condition", K_COND),
	P("although", K_COND), P("though", K_COND),
	P("nevertheless", K_COND), P("without", K_COND),
	P("no longer than", K_COND), P("not more than", K_COND),
	P("vorbehalt", K_COND), P("vorbehaltlich", K_COND),
	P("erst", K_COND), P("ab", K_COND), P("bis", K_COND),
	P("morgen", K_COND), P("Ubermorgen", K_COND), P("vorerst", K_COND),
	P("vorlAufig", K_COND), P("zunAchst", K_COND), P("erstmal", K_COND),
	P("befristet", K_COND), P("until", K_COND), P("till", K_COND),
	P("tomorrow", K_COND), P("for now", K_COND),
	P("temporarily", K_COND),
	P("nur", K_COND), P("lediglich", K_COND),
	P("ausschliesslich", K_COND), P("only", K_COND),

	/* doubt */
	P("vielleicht", K_DOUBT), P("eventuell", K_DOUBT),
	P("evtl", K_DOUBT), P("mOglicherweise", K_DOUBT),
	P("wahrscheinlich", K_DOUBT), P("jein", K_DOUBT), P("jaein", K_DOUBT),
	P("unsicher", K_DOUBT), P("nicht sicher", K_DOUBT),
	P("weiss nicht", K_DOUBT), P("weis nicht", K_DOUBT),
	P("weiss ich nicht", K_DOUBT), P("keine ahnung", K_DOUBT),
	P("egal", K_DOUBT), P("spAter", K_DOUBT), P("eigentlich", K_DOUBT),
	P("naja", K_DOUBT), P("na ja", K_DOUBT), P("ungern", K_DOUBT),
	P("quatsch", K_DOUBT), P("scherz", K_DOUBT), P("spass", K_DOUBT),
	P("maybe", K_DOUBT), P("perhaps", K_DOUBT),
	P("possibly", K_DOUBT), P("probably", K_DOUBT),
	P("unsure", K_DOUBT), P("not sure", K_DOUBT),
	P("no idea", K_DOUBT), P("dont know", K_DOUBT),
	P("don t know", K_DOUBT), P("do not know", K_DOUBT),
	P("later", K_DOUBT), P("whatever", K_DOUBT),
	P("kidding", K_DOUBT), P("joke", K_DOUBT), P("joking", K_DOUBT),
	P("reluctantly", K_DOUBT), P("noch", K_DOUBT), P("Uberlege", K_DOUBT),
	P("Uberlegen", K_DOUBT), P("nachdenken", K_DOUBT),
	P("unschlUssig", K_DOUBT), P("zOgere", K_DOUBT), P("think", K_DOUBT),
	P("thinking", K_DOUBT), P("consider", K_DOUBT),
	P("considering", K_DOUBT), P("hesitant", K_DOUBT),
	P("nichts dagegen", K_DOUBT),
};

#define NPHRASES (sizeof phrases / sizeof phrases[0])

/* One normalised word. odd: holds a character no pattern has, or was cut.
 * brk_before/brk_after: the start or end of the text, or punctuation or a
 * line break (not just blanks) separates it from its neighbour.
 * lines: line breaks before it (2: a blank line; the start of the text
 * counts as 2). sig: a signature delimiter ("-- " at the start of a
 * line) comes before it. */
struct word {
	char s[WORD_CAP];
	size_t len;
	size_t off;      /* byte offset of its first character */
	bool odd;
	bool hex;
	bool num;        /* digits only */
	bool brk_before, brk_after;
	bool sig;
	unsigned char lines;
};

/* One chunk of words. more: another word follows the last one kept. */
struct words {
	struct word w[WORDS_CAP];
	size_t n;
	bool more;
};

/* A matched table entry (or a single other word) at words [pos, pos+n). */
struct item {
	size_t pos, n;
	enum kind kind;
	enum role role;
	const struct phrase *ph;   /* the entry matched, or NULL */
	bool used;       /* a negation that negated something */
	bool neg_inside; /* a separable verb with a negation inside it */
	bool absorbed;   /* a yes taken up by a preceding "nicht mehr" */
};

/* ---- UTF-8 decoding (input already validated; still bounded) ---- */

/* utf8_next - decode the code point at s[*i] (i < n), advance *i. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char c = s[*i];
	size_t need;
	uint32_t cp;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xf0) {
		need = 3;
		cp = c & 0x07u;
	} else if (c >= 0xe0) {
		need = 2;
		cp = c & 0x0fu;
	} else {
		need = 1;
		cp = c & 0x1fu;
	}
	(*i)++;
	while (need > 0 && *i < n) {
		cp = (cp << 6) | (s[*i] & 0x3fu);
		(*i)++;
		need--;
	}
	return cp;
}

static bool is_ascii_alnum(uint32_t cp)
{
	return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
	       (cp >= '0' && cp <= '9');
}

static bool is_apostrophe(uint32_t cp)
{
	return cp == '\'' || cp == '`' || cp == 0xb4 || cp == 0x2bc ||
	       cp == 0x2018 || cp == 0x2019;
}

static bool is_question(uint32_t cp)
{
	return cp == '?' || cp == 0xbf || cp == 0x37e || cp == 0x203d ||
	       (cp >= 0x2047 && cp <= 0x2049) || cp == 0xff1f;
}

/* is_invisible - a format character that is dropped before anything else:
 * it neither separates words nor belongs to one ("ni<U+200B>cht" is
 * "nicht"). Soft hyphen, zero-width space/joiners, direction marks, word
 * joiner and invisible operators, BOM, and a few more of the same sort. */
static bool is_invisible(uint32_t cp)
{
	return cp == 0xad || cp == 0x34f || cp == 0x61c || cp == 0x180e ||
	       (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2064) ||
	       (cp >= 0x2066 && cp <= 0x206f) || cp == 0xfeff;
}

/* is_newline - a separator that ends a line. */
static bool is_newline(uint32_t cp)
{
	return cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
	       cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

/* is_blank - a separator that does not end a clause. */
static bool is_blank(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == 0xa0 || cp == 0x202f ||
	       (cp >= 0x2000 && cp <= 0x200a) || cp == 0x205f || cp == 0x3000;
}

/* is_separator - punctuation, spaces, symbols, emoji: not part of a word. */
static bool is_separator(uint32_t cp)
{
	if (cp < 0x80)
		return !is_ascii_alnum(cp);
	return cp <= 0xbf || cp == 0xd7 || cp == 0xf7 ||
	       (cp >= 0x2000 && cp <= 0x2bff) ||     /* punctuation, symbols */
	       (cp >= 0x2e00 && cp <= 0x2e7f) ||
	       (cp >= 0x3000 && cp <= 0x303f) ||
	       (cp >= 0xfe00 && cp <= 0xfe0f) ||     /* variation selectors */
	       (cp >= 0xfe30 && cp <= 0xfe4f) ||
	       (cp >= 0xff00 && cp <= 0xff0f) ||
	       (cp >= 0xff1a && cp <= 0xff20) ||
	       (cp >= 0x1f000 && cp <= 0x1faff) ||   /* emoji */
	       (cp >= 0xe0000 && cp <= 0xe007f);     /* tag characters */
}

/* is_word_cp - a code point that belongs to a word. */
static bool is_word_cp(uint32_t cp)
{
	return !is_separator(cp) && !is_apostrophe(cp) && !is_invisible(cp);
}

/* fold - the normalised ASCII form of a word character ("" for none:
 * the caller then stores a character no pattern holds). */
static const char *fold(uint32_t cp, char buf[2])
{
	switch (cp) {
	case 0xc4: case 0xe4: return "ae";
	case 0xd6: case 0xf6: return "oe";
	case 0xdc: case 0xfc: return "ue";
	case 0xdf: case 0x1e9e: return "ss";
	default: break;
	}
	if (is_ascii_alnum(cp)) {
		buf[0] = (char)((cp >= 'A' && cp <= 'Z') ? cp + ('a' - 'A') : cp);
		buf[1] = '\0';
		return buf;
	}
	return "";
}

/* ---- splitting into words ---- */

static void word_add(struct word *w, const char *s)
{
	if (*s == '\0') {
		s = "*";
		w->odd = true;
	}
	for (; *s != '\0'; s++) {
		if (w->len + 1 >= WORD_CAP) {
			w->odd = true;
			return;
		}
		w->s[w->len++] = *s;
	}
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* word_end - close the word being built, if any. */
static void word_end(struct words *ws, bool *open)
{
	struct word *w;

	if (!*open)
		return;
	*open = false;
	w = &ws->w[ws->n];
	w->s[w->len] = '\0';
	w->hex = !w->odd && w->len == HEX_WORD && all_hex(w->s, w->len);
	w->num = !w->odd && all_digits(w->s, w->len);
	ws->n++;
}

/* has_question - a question mark anywhere in text[0..len). */
static bool has_question(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	while (i < len)
		if (is_question(utf8_next(s, len, &i)))
			return true;
	return false;
}

/* line_breaks - how many line breaks cp makes (CR LF counts once). */
static unsigned line_breaks(uint32_t cp, const unsigned char *s, size_t len, size_t i)
{
	if (cp == '\r')
		return (i < len && s[i] == '\n') ? 0 : 1;
	if (cp == 0x2029)
		return 2;       /* paragraph separator */
	return is_newline(cp) ? 1 : 0;
}

/* split - normalise text[from..len) (valid UTF-8) into at most WORDS_CAP
 * words of ws. from is 0, or the start of the word first, which was read
 * before and whose separator state is taken over. When another word
 * follows the last one kept, ws->more is set and the scan stops there. */
static void split(const char *text, size_t len, size_t from,
                  const struct word *first, struct words *ws)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = from;
	bool open = false;
	bool brk = first != NULL ? first->brk_before : true;
	bool sig = first != NULL ? first->sig : false;
	bool fresh = first == NULL;     /* only blanks and dashes on this line */
	unsigned lines = first != NULL ? first->lines : 2, dashes = 0;
	char buf[2];

	ws->n = 0;
	ws->more = false;
	while (i < len) {
		size_t at = i;
		uint32_t cp = utf8_next(s, len, &i);

		if (is_invisible(cp))
			continue;            /* dropped: "ni\u200bcht" = "nicht" */
		if (is_apostrophe(cp) && open) {
			size_t j = i;
			uint32_t next = 0;
			while (j < len && is_invisible(next = utf8_next(s, len, &j)))
				next = 0;
			if (next != 0 && is_word_cp(next))
				continue;    /* inside a word: "don't" -> "dont" */
		}
		if (!is_word_cp(cp)) {
			word_end(ws, &open);
			if (!is_blank(cp))
				brk = true;
			if (is_newline(cp)) {
				if (fresh && dashes >= 2)
					sig = true;     /* "-- " alone on its line */
				fresh = true;
				dashes = 0;
			} else if (cp == '-' && fresh) {
				dashes++;
			} else if (!is_blank(cp)) {
				fresh = false;
			}
			lines += line_breaks(cp, s, len, i);
			if (lines > 2)
				lines = 2;
			continue;
		}
		if (!open) {
			if (ws->n >= WORDS_CAP) {
				ws->w[ws->n - 1].brk_after = brk;
				ws->more = true;
				return;
			}
			memset(&ws->w[ws->n], 0, sizeof ws->w[ws->n]);
			ws->w[ws->n].off = at;
			ws->w[ws->n].brk_before = brk;
			ws->w[ws->n].lines = (unsigned char)lines;
			ws->w[ws->n].sig = sig || (fresh && dashes >= 2);
			if (ws->n > 0)
				ws->w[ws->n - 1].brk_after = brk;
			brk = false;
			sig = fresh = false;
			dashes = 0;
			lines = 0;
			open = true;
		}
		word_add(&ws->w[ws->n], fold(cp, buf));
	}
	word_end(ws, &open);
	if (ws->n > 0)
		ws->w[ws->n - 1].brk_after = true;
}

/* ---- matching ---- */

/* word_match - pattern word p[0..pn) against normalised t[0..tn). */
static bool word_match(const char *p, size_t pn, const char *t, size_t tn)
{
	while (pn > 0) {
		char c = *p;
		if (c == 'A' || c == 'O' || c == 'U') {
			char lc = (char)(c + ('a' - 'A'));
			if (tn == 0 || *t != lc)
				return false;
			if (tn >= 2 && t[1] == 'e' &&
			    word_match(p + 1, pn - 1, t + 2, tn - 2))
				return true;
		} else if (tn == 0 || *t != c) {
			return false;
		}
		p++, pn--, t++, tn--;
	}
	return tn == 0;
}

/* first_char - the text character a pattern must start with. */
static char first_char(const char *pat)
{
	char c = pat[0];
	return (c == 'A' || c == 'O' || c == 'U') ? (char)(c + ('a' - 'A')) : c;
}

/* phrase_match - the number of words pat covers at ws->w[at], or 0. */
static size_t phrase_match(const char *pat, const struct words *ws, size_t at)
{
	size_t k = 0;

	while (*pat != '\0') {
		size_t pn = 0;
		const struct word *w;

		while (pat[pn] != '\0' && pat[pn] != ' ')
			pn++;
		if (at + k >= ws->n)
			return 0;
		w = &ws->w[at + k];
		if (w->odd || !word_match(pat, pn, w->s, w->len))
			return 0;
		k++;
		pat += pn;
		if (*pat == ' ')
			pat++;
	}
	return k;
}

/* The table grouped by the first character of its patterns (built per
 * call, on the stack: no shared state). */
#define BUCKETS 36   /* a-z, 0-9 */

struct index {
	unsigned short start[BUCKETS + 1];
	unsigned short entry[NPHRASES];
};

_Static_assert(NPHRASES < 65536, "index entries are unsigned short");

static int bucket(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '0' && c <= '9')
		return 26 + (c - '0');
	return -1;
}

static void index_build(struct index *ix)
{
	unsigned short count[BUCKETS + 1] = { 0 };

	for (size_t i = 0; i < NPHRASES; i++)
		count[bucket(first_char(phrases[i].pat)) + 1]++;
	ix->start[0] = 0;
	for (int b = 0; b < BUCKETS; b++)
		ix->start[b + 1] = (unsigned short)(ix->start[b] + count[b + 1]);
	memset(count, 0, sizeof count);
	for (size_t i = 0; i < NPHRASES; i++) {
		int b = bucket(first_char(phrases[i].pat));
		ix->entry[ix->start[b] + count[b]++] = (unsigned short)i;
	}
}

/* longest - the longest table entry at ws->w[at]; an OTHER item if none.
 * Of two entries of the same length the earlier in the table wins. */
static struct item longest(const struct index *ix, const struct words *ws, size_t at)
{
	struct item it = { at, 1, K_OTHER, R_NONE, NULL, false, false, false };
	size_t best = 0;
	int b = bucket(ws->w[at].s[0]);

	for (size_t e = b < 0 ? 0 : ix->start[b]; b >= 0 && e < ix->start[b + 1]; e++) {
		size_t i = ix->entry[e];
		size_t k = phrase_match(phrases[i].pat, ws, at);
		if (k > best) {
			best = k;
			it.n = k;
			it.kind = (enum kind)phrases[i].kind;
			it.role = phrases[i].kind == K_SEP ? R_NONE
			                                   : (enum role)phrases[i].role;
			it.ph = &phrases[i];
		}
	}
	if (best == 0 && ws->w[at].hex)
		it.kind = K_NEUTRAL;
	return it;
}

/* ---- reading a chunk ---- */

static bool is_answer(enum kind k)
{
	return k == K_YES || k == K_NO || k == K_WITHDRAW || k == K_CEASE;
}

/* particles - German "ja" is also a modal particle ("das ist ja toll"):
 * it is an answer only as the first word that counts, or as a clause of
 * its own ("Liebe Frau Weber, ja."). Elsewhere it is a neutral word.
 * counted_before: a counted word stands before the chunk. */
static void particles(struct item *items, size_t ni, const struct words *ws,
                      bool counted_before)
{
	for (size_t i = 0; i < ni; i++) {
		struct item *it = &items[i];
		const struct word *w = &ws->w[it->pos];

		if (it->kind == K_YES && it->n == 1 && strcmp(w->s, "ja") == 0 &&
		    counted_before && !(w->brk_before && w->brk_after))
			it->kind = K_KNOWN;
		if (it->kind != K_NEUTRAL)
			counted_before = true;
	}
}

/* same_clause - no punctuation or line break between words a < b. */
static bool same_clause(const struct words *ws, size_t a, size_t b)
{
	for (size_t k = a + 1; k <= b; k++)
		if (ws->w[k].brk_before)
			return false;
	return true;
}

/* separables - complete each separable verb with its particle later in
 * the same clause, at most SEP_GAP words on ("lehne die Verknüpfung ab",
 * "stimme der Verknüpfung zu"): the head becomes a yes, a no or a
 * withdrawal, the particle a neutral word, and a negation between them
 * negates it. The words between stay words of their own, so a yes still
 * needs every one of them known. A head without its particle is an
 * ordinary (unknown) word. */
static void separables(struct item *items, size_t ni, const struct words *ws)
{
	for (size_t i = 0; i < ni; i++) {
		struct item *h = &items[i];
		const char *part;
		bool found = false;

		if (h->kind != K_SEP)
			continue;
		part = h->ph->particle;
		for (size_t j = i + 1; j < ni; j++) {
			struct item *p = &items[j];
			if (p->pos - h->pos > SEP_GAP + 1 ||
			    !same_clause(ws, h->pos, p->pos))
				break;
			if (p->n == 1 && !ws->w[p->pos].odd &&
			    word_match(part, strlen(part), ws->w[p->pos].s,
			               ws->w[p->pos].len)) {
				bool cease = false;
				for (size_t k = i + 1; k < j; k++) {
					if (items[k].kind == K_NEG) {
						items[k].used = true;
						h->neg_inside = true;
					}
					if (items[k].kind == K_CEASE)
						cease = true;
				}
				p->kind = K_KNOWN;
				h->kind = (enum kind)h->ph->role;
				/* "stimme dem nicht mehr zu": the "nicht mehr"
				 * is the withdrawal, the verb says no more */
				if (h->kind == K_YES && cease)
					h->kind = K_KNOWN;
				found = true;
				break;
			}
		}
		if (!found)
			h->kind = K_OTHER;
	}
}

/* negation_of - the negation item that negates the yes at items[i]
 * (ending within NEG_WINDOW words before it), or ni. */
static size_t negation_of(const struct item *items, size_t ni, size_t i)
{
	size_t pos = items[i].pos;
	size_t from = pos >= NEG_WINDOW ? pos - NEG_WINDOW : 0;

	for (size_t j = 0; j < i; j++) {
		size_t last = items[j].pos + items[j].n - 1;
		if (items[j].kind == K_NEG && last >= from && last < pos)
			return j;
	}
	return ni;
}

/* anymores - "anymore"/"any longer" after a refusal or a negated yes in
 * the same clause makes it a withdrawal ("I don't agree anymore"); after
 * anything else it is an ordinary word. */
static void anymores(struct item *items, size_t ni, const struct words *ws)
{
	for (size_t i = 0; i < ni; i++) {
		bool done = false;

		if (items[i].kind != K_ANYMORE)
			continue;
		for (size_t j = i; j-- > 0;) {
			struct item *t = &items[j];
			if (items[i].pos - t->pos > ANYMORE_GAP ||
			    !same_clause(ws, t->pos, items[i].pos))
				break;
			if (t->kind == K_NO) {
				t->kind = K_WITHDRAW;
				done = true;
			} else if (t->kind == K_YES) {
				size_t g = negation_of(items, ni, j);
				if (g < ni) {
					items[g].kind = K_CEASE;
					done = true;
				}
			}
			if (is_answer(t->kind))
				break;
		}
		items[i].kind = done ? K_KNOWN : K_OTHER;
	}
}

/* ---- judging ---- */

struct verdict {
	bool yes, no, withdraw;
	bool negated_yes, negated_no, negated_withdraw;
	bool cond, doubt, stray_neg;
	bool long_text;      /* more words than a yes may have */
	size_t counted;
	char unknown[UNKNOWN_SHOWN + 1];   /* first unknown word of a would-be yes */
};

/* negation_near - mark and report a negation ending in [from, to]
 * (word indices, inclusive). */
static bool negation_near(struct item *items, size_t ni, size_t from, size_t to)
{
	bool found = false;

	for (size_t j = 0; j < ni; j++) {
		size_t last;
		if (items[j].kind != K_NEG)
			continue;
		last = items[j].pos + items[j].n - 1;
		if (last >= from && last <= to) {
			items[j].used = true;
			found = true;
		}
	}
	return found;
}

/* negation_after - mark and report a negation starting in [from, to]. */
static bool negation_after(struct item *items, size_t ni, size_t from, size_t to)
{
	bool found = false;

	for (size_t j = 0; j < ni; j++) {
		if (items[j].kind == K_NEG && items[j].pos >= from &&
		    items[j].pos <= to) {
			items[j].used = true;
			found = true;
		}
	}
	return found;
}

/* cease_before - a "nicht mehr" ending within NEG_WINDOW words before pos. */
static bool cease_before(const struct item *items, size_t ni, size_t pos)
{
	size_t from = pos >= NEG_WINDOW ? pos - NEG_WINDOW : 0;

	for (size_t j = 0; j < ni; j++) {
		size_t last = items[j].pos + items[j].n - 1;
		if (items[j].kind == K_CEASE && last >= from && last < pos)
			return true;
	}
	return false;
}

/* weigh - judge every item of the chunk (so that negations are marked
 * whoever they negate) and add to v what the items in [lo, hi) say. */
static void weigh(struct item *items, size_t ni, size_t lo, size_t hi,
                  struct verdict *v)
{
	for (size_t i = 0; i < ni; i++) {
		struct item *it = &items[i];
		size_t from = it->pos >= NEG_WINDOW ? it->pos - NEG_WINDOW : 0;
		bool core = it->pos >= lo && it->pos < hi;
		bool answer = is_answer(it->kind);
		bool before = answer && it->pos > 0 &&
		              negation_near(items, ni, from, it->pos - 1);

		if (it->kind == K_YES && cease_before(items, ni, it->pos)) {
			it->absorbed = true;   /* "nicht mehr einverstanden" */
			if (core)
				v->withdraw = true;
			continue;
		}
		if (!core) {
			if (it->kind == K_WITHDRAW || it->kind == K_CEASE) {
				size_t end = it->pos + it->n;
				(void)negation_after(items, ni, end, end + NEG_WINDOW - 1);
			}
			continue;
		}
		if (it->kind != K_NEUTRAL)
			v->counted += it->n;
		switch (it->kind) {
		case K_YES:
			if (before || it->neg_inside)
				v->negated_yes = v->no = true;
			else
				v->yes = true;
			break;
		case K_NO:
			if (before || it->neg_inside)
				v->negated_no = true;
			else
				v->no = true;
			break;
		case K_WITHDRAW:
		case K_CEASE: {
			size_t end = it->pos + it->n;
			bool after = negation_after(items, ni, end, end + NEG_WINDOW - 1);
			if (before || after || it->neg_inside)
				v->negated_withdraw = true;
			else
				v->withdraw = true;
			break;
		}
		case K_NOTHING: v->stray_neg = true; break;
		case K_COND: v->cond = true; break;
		case K_DOUBT: v->doubt = true; break;
		default: break;
		}
	}
	for (size_t i = 0; i < ni; i++)
		if (items[i].kind == K_NEG && !items[i].used &&
		    items[i].pos >= lo && items[i].pos < hi)
			v->stray_neg = true;
}

/* deciding - an item that says something (not a word of courtesy, a
 * neutral word, or a name). */
static bool deciding(enum kind k)
{
	return k == K_YES || k == K_NO || k == K_WITHDRAW || k == K_CEASE ||
	       k == K_NEG || k == K_NOTHING || k == K_COND || k == K_DOUBT ||
	       k == K_PS;
}

static bool is_unknown(enum kind k)
{
	return k == K_OTHER || k == K_SIGWORD;
}

/* signature_word - a neutral word that may stand in a signature: between
 * names ("Assistenz der Geschäftsführung", "Anna und Tom") or as a title
 * ("Frau Dr.", "Team Einkauf", "E-Mail"). Any other neutral word there
 * ("ich", "bin", "mir") is a sentence, not a signature. */
static bool signature_word(const struct item *it, const struct word *w)
{
	static const char *const words[] = {
		"und", "and", "der", "die", "das", "des", "von", "vom", "van",
		"de", "zu", "of", "the", "dr", "prof", "frau", "herr", "herrn",
		"mr", "mrs", "ms", "team", "e mail", "email", "mail", NULL
	};
	const char *s = it->ph != NULL ? it->ph->pat : w->s;

	for (size_t i = 0; words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

/* names - mark in ok[] the unknown words that stand where names stand
 * (see the header comment): after a salutation, in a signature after a
 * sign-off behind the last deciding word, alone on the last line. */
static void names(const struct item *items, size_t ni, const struct words *ws,
                  bool ok[])
{
	size_t i = 0, sig = ni, first = 0;

	/* Salutation clauses at the start: "Guten Tag, liebe Frau Weber," */
	while (i < ni && items[i].role == R_HELLO) {
		size_t n = 0, j = i + 1;
		for (; j < ni && !ws->w[items[j].pos].brk_before; j++)
			if (items[j].kind == K_OTHER && n < HELLO_NAMES) {
				ok[j] = true;
				n++;
			}
		i = j;
	}

	/* Signature: from the first sign-off behind the last deciding word.
	 * It may hold names within the budget, numbers and signature words
	 * after a closing, and no neutral word but signature words; else
	 * none of its unknown words is a name. */
	for (size_t j = 0; j < ni; j++)
		if (deciding(items[j].kind))
			first = j + 1;
	for (size_t j = first; j < ni; j++)
		if (items[j].role == R_THANKS || items[j].role == R_CLOSE ||
		    ws->w[items[j].pos].sig) {
			sig = j;
			break;
		}
	if (sig < ni) {
		bool closing = false, sentence = false;
		size_t n = 0;
		for (size_t j = sig; j < ni; j++) {
			const struct word *w = &ws->w[items[j].pos];
			if (items[j].role == R_CLOSE || w->sig)
				closing = true;
			if (items[j].kind == K_KNOWN && !signature_word(&items[j], w))
				sentence = true;
			else if (is_unknown(items[j].kind) &&
			         !(closing && (items[j].kind == K_SIGWORD || w->num)))
				n++;
		}
		if (!sentence && n <= (closing ? CLOSE_NAMES : THANKS_NAMES))
			for (size_t j = sig; j < ni; j++)
				if (is_unknown(items[j].kind))
					ok[j] = true;
	}

	/* The last line, when it holds nothing but a few unknown words:
	 * "Yes, I agree.\n\nJohn". */
	for (size_t j = ni; j-- > 0;) {
		if (ws->w[items[j].pos].lines == 0)
			continue;
		if (j == 0 || ni - j > LINE_NAMES)
			break;
		for (size_t k = j; k < ni; k++)
			if (items[k].kind != K_OTHER || ws->w[items[k].pos].num)
				return;
		for (size_t k = j; k < ni; k++)
			ok[k] = true;
		break;
	}
}

/* unknowns - copy the first word of a would-be yes that is neither known
 * nor a name into v->unknown. */
static void unknowns(const struct item *items, size_t ni, const struct words *ws,
                     struct verdict *v)
{
	bool ok[WORDS_CAP] = { false };

	names(items, ni, ws, ok);
	for (size_t i = 0; i < ni; i++) {
		if (!is_unknown(items[i].kind) || ok[i])
			continue;
		snprintf(v->unknown, sizeof v->unknown, "%.*s", UNKNOWN_SHOWN,
		         ws->w[items[i].pos].s);
		return;
	}
}

static enum intent unclear(const char **why, const char *reason)
{
	*why = reason;
	return INTENT_UNCLEAR;
}

/* decide - the verdict as an intent and a reason (buf holds a composed
 * reason). Length and unknown words only ever stop a yes. */
static enum intent decide(const struct verdict *v, const char **why,
                          char *buf, size_t buflen)
{
	int kinds = (int)v->yes + (int)v->no + (int)v->withdraw;

	if (v->cond)
		return unclear(why, "condition");
	if (v->doubt)
		return unclear(why, "uncertain");
	if (v->negated_no)
		return unclear(why, "negated no");
	if (v->negated_withdraw)
		return unclear(why, "negated withdrawal");
	if (kinds > 1)
		return unclear(why, !v->withdraw ? "both yes and no" :
		                    !v->no ? "both yes and withdraw" :
		                    !v->yes ? "both no and withdraw" :
		                    "yes, no and withdraw");
	if (kinds == 0)
		return unclear(why, "no answer");
	if (v->yes) {
		if (v->long_text || v->counted > INTENT_WORDS_MAX)
			return unclear(why, "too many words");
		if (v->stray_neg)
			return unclear(why, "negation with yes");
		if (v->unknown[0] != '\0') {
			snprintf(buf, buflen, "unknown word '%.*s'", UNKNOWN_SHOWN,
			         v->unknown);
			return unclear(why, buf);
		}
		*why = "yes";
		return INTENT_YES;
	}
	if (v->no) {
		*why = v->negated_yes ? "negated yes" : "no";
		return INTENT_NO;
	}
	*why = "withdraw";
	return INTENT_WITHDRAW;
}

/* classify - read the text chunk by chunk. Each chunk judges the items in
 * its core [lo, hi); the next chunk starts MARGIN words before hi, at an
 * item boundary, so its items are the items the whole text would have. */
static enum intent classify(const char *text, size_t len, const char **why,
                            char *buf, size_t buflen)
{
	struct words ws;
	struct item items[WORDS_CAP];
	struct index ix;
	struct verdict v;
	size_t from = 0, lo = 0;
	struct word first = { 0 };
	bool counted_before = false, any_word = false;

	if (text == NULL || len == 0)
		return unclear(why, "empty");
	if (len > INTENT_TEXT_MAX)
		return unclear(why, "too long");
	if (!text_utf8_valid(text, len))
		return unclear(why, "invalid UTF-8");
	if (has_question(text, len))
		return unclear(why, "question");
	memset(&v, 0, sizeof v);
	index_build(&ix);
	for (;;) {
		size_t ni = 0, hi, next = 0;

		split(text, len, from, from == 0 ? NULL : &first, &ws);
		if (ws.n == 0)
			break;
		any_word = true;
		for (size_t at = 0; at < ws.n; ni++) {
			items[ni] = longest(&ix, &ws, at);
			at += items[ni].n;
		}
		particles(items, ni, &ws, counted_before);
		separables(items, ni, &ws);
		anymores(items, ni, &ws);
		hi = ws.n;
		if (ws.more) {
			/* core ends at the first item from n - 2*MARGIN on; the
			 * next chunk starts at the last item MARGIN words before */
			size_t k = 0;
			while (k < ni && items[k].pos < ws.n - 2 * MARGIN)
				k++;
			hi = items[k].pos;
			for (size_t j = 0; j < ni && items[j].pos + MARGIN <= hi; j++)
				next = j;
			v.long_text = true;
		}
		weigh(items, ni, lo, hi, &v);
		if (!ws.more) {
			if (ws.n > YES_WORDS_MAX)
				v.long_text = true;
			else if (!v.long_text)
				unknowns(items, ni, &ws, &v);
			break;
		}
		for (size_t j = 0; j < next; j++)
			if (items[j].kind != K_NEUTRAL)
				counted_before = true;
		lo = hi - items[next].pos;
		first = ws.w[items[next].pos];
		from = first.off;
	}
	if (!any_word)
		return unclear(why, "empty");
	return decide(&v, why, buf, buflen);
}

enum intent intent_classify(const char *text, size_t len, char *why, size_t whylen)
{
	const char *reason = "";
	char buf[64];
	enum intent r = classify(text, len, &reason, buf, sizeof buf);

	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
	return r;
}

const char *intent_name(enum intent i)
{
	switch (i) {
	case INTENT_UNCLEAR: return "unclear";
	case INTENT_YES: return "yes";
	case INTENT_NO: return "no";
	case INTENT_WITHDRAW: return "withdraw";
	}
	return "unclear";
}
