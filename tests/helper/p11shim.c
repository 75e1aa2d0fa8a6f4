/* p11shim: a TEST-ONLY PKCS#11 module that forwards every call to a real
 * module (SoftHSM2 in tests/helper/card-helper.t) and injects what SoftHSM2
 * cannot show: a card's PIN-counter flags, no reader, no card, a card pulled
 * out during C_Sign. It reads $P11SHIM_CTL at every call (words, any order):
 *   flags=0xHEX   OR-ed into CK_TOKEN_INFO.flags (e.g. CKF_USER_PIN_FINAL_TRY)
 *   noreader      C_GetSlotList reports no slot at all
 *   nocard        C_GetSlotList(tokenPresent=TRUE) reports none
 *   removed       C_Sign answers CKR_DEVICE_REMOVED
 *   signpin=LABEL the token LABEL reports a PIN length range of 6..16, like
 *                 the signing-PIN slot OpenSC shows for a My Number Card
 * and appends "C_Login" / "C_Sign" (never the PIN) to $P11SHIM_LOG, so a test
 * can prove the card was not asked. The real module: $P11SHIM_MODULE. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST shim;
static CK_FUNCTION_LIST_PTR real;

static int ctl_get(const char *word, unsigned long *value, char *str, size_t strsz)
{
    char buf[512], *tok, *save = NULL;
    const char *path = getenv("P11SHIM_CTL");
    FILE *f = path ? fopen(path, "r") : NULL;
    size_t n;
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        size_t wl = strlen(word);
        if (!strncmp(tok, word, wl) && (tok[wl] == '\0' || tok[wl] == '=')) {
            if (value)
                *value = tok[wl] == '=' ? strtoul(tok + wl + 1, NULL, 0) : 0;
            if (str)
                snprintf(str, strsz, "%s", tok[wl] == '=' ? tok + wl + 1 : "");
            return 1;
        }
    }
    return 0;
}

static int ctl_has(const char *word, unsigned long *value)
{
    return ctl_get(word, value, NULL, 0);
}

static void note(const char *what)
{
    const char *path = getenv("P11SHIM_LOG");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "%s\n", what);
        fclose(f);
    }
}

static CK_RV shim_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    if (ctl_has("noreader", NULL) || (present && ctl_has("nocard", NULL))) {
        *count = 0;
        return CKR_OK;
    }
    return real->C_GetSlotList(present, list, count);
}

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    unsigned long flags = 0;
    CK_RV rv = real->C_GetTokenInfo(slot, info);
    char label[64];
    if (rv == CKR_OK && ctl_has("flags", &flags))
        info->flags |= flags;
    if (rv == CKR_OK && ctl_get("signpin", NULL, label, sizeof label)) {
        size_t n = strlen(label);
        if (n <= sizeof info->label && !memcmp(info->label, label, n) &&
            (n == sizeof info->label || info->label[n] == ' ')) {
            info->ulMinPinLen = 6;
            info->ulMaxPinLen = 16;
        }
    }
    return rv;
}

static CK_RV shim_Login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
    note("C_Login");
    return real->C_Login(s, u, pin, len);
}

static CK_RV shim_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                       CK_ULONG_PTR siglen)
{
    note("C_Sign");
    if (ctl_has("removed", NULL))
        return CKR_DEVICE_REMOVED;
    return real->C_Sign(s, data, len, sig, siglen);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
    const char *path = getenv("P11SHIM_MODULE");
    void *dl;
    CK_C_GetFunctionList get;

    if (!real) {
        if (!path || !(dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
            return CKR_GENERAL_ERROR;
        get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
        if (!get || get(&real) != CKR_OK)
            return CKR_GENERAL_ERROR;
        shim = *real;
        shim.C_GetFunctionList = C_GetFunctionList;
        shim.C_GetSlotList = shim_GetSlotList;
        shim.C_GetTokenInfo = shim_GetTokenInfo;
        shim.C_Login = shim_Login;
        shim.C_Sign = shim_Sign;
    }
    *out = &shim;
    return CKR_OK;
}
