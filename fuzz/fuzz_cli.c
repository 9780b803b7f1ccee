// SPDX-License-Identifier: MIT
/* fuzz_cli.c: the command line's parsers, and only them: cmd_train_parse and cmd_predict_parse
 * read argv and report, and run nothing. Input: a byte whose lowest bit picks the command (the
 * seeds use '0' train, '1' predict), then the arguments, separated by NUL bytes (a final NUL
 * ends the last argument). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "harness.h"

int fuzz_cli(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int predict = data[0] & 1;
    size_t len = size - 1, argc = 1;
    /* The arguments, each NUL-terminated, in one buffer; argv points into it. */
    char *text = malloc(len + 1), **argv = NULL;
    if (!text) return fuzz_report("out of memory");
    memcpy(text, data + 1, len);
    text[len] = '\0';
    for (size_t i = 0; i < len; ++i) argc += text[i] == '\0' && i + 1 < len;
    if (len) ++argc;
    if (!(argv = malloc((argc + 1) * sizeof *argv))) {
        free(text);
        return fuzz_report("out of memory");
    }
    char command[] = "train", command_p[] = "predict";
    argv[0] = predict ? command_p : command;
    for (size_t i = 0, k = 1; k < argc; ++k) {
        argv[k] = text + i;
        i += strlen(text + i) + 1;
    }
    argv[argc] = NULL;
    int rc = predict ? cmd_predict_parse((int)argc, argv) : cmd_train_parse((int)argc, argv);
    int bad = rc != 0 && rc != -1 && rc != EXIT_USAGE;
    if (bad) fuzz_report("%s's parser returned %d (0, -1 or %d expected)", argv[0], rc, EXIT_USAGE);
    free(argv);
    free(text);
    return bad;
}
