/*
 * fuzz_config - the configuration parser on arbitrary bytes: it must load
 * or refuse with a message, never crash, and a loaded config is complete.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "consentd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	config *cfg = NULL;
	FILE *fp;
	int i;

	if (size == 0)
		return 0;
	fp = fmemopen((void *)data, size, "r");
	if (!fp)
		return 0;
	if (config_load_stream(&cfg, fp, "fuzz.conf", err, sizeof(err)) == 0) {
		assert(cfg->service_address && cfg->store_path && cfg->reply_domain);
		for (i = 0; i < cfg->npurposes; i++)
			assert(cfg->purpose[i].title_de && cfg->purpose[i].title_en);
	} else {
		assert(err[0] != '\0');
		assert(strlen(err) < sizeof(err));
	}
	config_free(cfg);
	fclose(fp);
	return 0;
}
