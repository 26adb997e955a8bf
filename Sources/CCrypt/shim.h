#ifndef BASALT_CCRYPT_SHIM_H
#define BASALT_CCRYPT_SHIM_H
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

/* libxcrypt's bcrypt, wrapped so Swift never sees the 32 KiB `struct crypt_data` (it lives on the heap
 * for one call). Both return 1 on success and write a NUL-terminated string into `out`. */

/* A "$2b$<rounds>$<22 salt characters>" setting string; random bytes come from the OS (rbytes NULL). */
static inline int basalt_bcrypt_gensalt(unsigned long rounds, char *out, int outsize) {
    return crypt_gensalt_rn("$2b$", rounds, NULL, 0, out, outsize) != NULL && out[0] == '$';
}

/* crypt_r of `phrase` with `setting` (a setting string or a whole stored hash). Failure: libxcrypt
 * returns a string starting with '*'. */
static inline int basalt_crypt(const char *phrase, const char *setting, char *out, size_t outsize) {
    struct crypt_data *data = calloc(1, sizeof *data);
    if (data == NULL) return 0;
    const char *r = crypt_r(phrase, setting, data);
    int ok = r != NULL && r[0] == '$' && strlen(r) < outsize;
    if (ok) memcpy(out, r, strlen(r) + 1);
    explicit_bzero(data, sizeof *data);
    free(data);
    return ok;
}
#endif
