/* jpki-card-helper: the local card helper of mod_jpki (docs/card-helper.md).
 * Shared declarations of its parts:
 *   jch_proto.c  pure protocol rules: Host, Origin, challenge, client data, codes
 *   jch_pin.c    PIN policy on token flags (pure) and the pinentry dialog (libassuan)
 *   jch_p11.c    the card through PKCS#11 (a module loaded with dlopen)
 *   jch_http.c   the loopback HTTP server (libmicrohttpd)
 *   jch_log.c    the log line writer
 *   jch_main.c   options, configuration file, start-up
 * Nothing here ever logs or returns a PIN; signatures and challenges are not logged. */
#ifndef JCH_H
#define JCH_H

#include <stddef.h>
#include <stdint.h>

#define JCH_NAME            "jpki-card-helper"
#define JCH_MAX_BODY        4096
#define JCH_MAX_ORIGINS     32
#define JCH_ORIGIN_MAX      253
#define JCH_CHALLENGE_MIN   16
#define JCH_CHALLENGE_MAX   128
#define JCH_CLIENT_DATA_MAX 512
#define JCH_PIN_MAX         64

/* Policy OID of the JPKI user-authentication certificate (利用者証明用). */
#define JCH_OID_AUTH "1.2.392.200149.8.5.1.3.30"

/* Every answer the helper can give: a stable code, an HTTP status and a
 * message for the user. Order must match the table in jch_proto.c. */
typedef enum {
    JCH_OK = 0,
    JCH_E_HOST_REFUSED,
    JCH_E_ORIGIN_REFUSED,
    JCH_E_NOT_FOUND,
    JCH_E_METHOD_NOT_ALLOWED,
    JCH_E_BAD_REQUEST,
    JCH_E_REQUEST_TOO_LARGE,
    JCH_E_BUSY,
    JCH_E_READER_NOT_FOUND,
    JCH_E_CARD_NOT_FOUND,
    JCH_E_CARD_AMBIGUOUS,
    JCH_E_CARD_REMOVED,
    JCH_E_PIN_CANCELLED,
    JCH_E_PIN_TIMEOUT,
    JCH_E_PIN_INVALID,
    JCH_E_PIN_INCORRECT,
    JCH_E_PIN_FINAL_TRY,
    JCH_E_PIN_BLOCKED,
    JCH_E_PINENTRY_FAILED,
    JCH_E_CARD_ERROR,
    JCH_E_COUNT
} jpki_ch_code_t;

typedef struct {
    const char *code; /* stable, e.g. "pin_blocked" */
    int status;       /* HTTP status */
    const char *message;
} jpki_ch_error_t;

const jpki_ch_error_t *jpki_ch_error_get(jpki_ch_code_t c);

/* --- jch_proto.c: pure rules ------------------------------------------------ */
int jpki_ch_origin_valid(const char *origin);
int jpki_ch_host_ok(const char *host, unsigned port);
int jpki_ch_challenge_valid(const char *c, size_t len);
/* Parses the request body {"challenge":"<C>"}; copies C into out (size
 * JCH_CHALLENGE_MAX+1). Returns JCH_OK or JCH_E_BAD_REQUEST. */
jpki_ch_code_t jpki_ch_body_parse(const char *body, size_t len, char *out);
/* Writes {"type":"jpki.login","challenge":"C","origin":"O"}; returns its
 * length or 0 when either part is not valid. */
size_t jpki_ch_client_data_build(const char *challenge, const char *origin, char *out,
                                 size_t outsz);
/* DigestInfo(SHA-256(data)): 51 bytes into out. */
void jpki_ch_digestinfo_sha256(const unsigned char *data, size_t len, unsigned char out[51]);
/* base64 (std, padded) or base64url (no padding); malloc'ed, caller frees. */
char *jpki_ch_b64(const unsigned char *in, size_t len, int url);
int jpki_ch_content_type_json(const char *ct);

/* --- jch_pin.c: the PIN rules on PKCS#11 token flags --------------------------- */
typedef enum {
    JCH_PIN_GO,        /* ask for the PIN */
    JCH_PIN_GO_LOW,    /* ask, and warn: a wrong PIN leaves one try */
    JCH_PIN_FINAL_TRY, /* refuse: one wrong PIN would lock the card */
    JCH_PIN_LOCKED,    /* refuse: locked */
    JCH_PIN_PINPAD     /* the reader has its own PIN pad: no dialog */
} jpki_ch_pin_decision_t;

jpki_ch_pin_decision_t jpki_ch_pin_decide(unsigned long token_flags);
/* Tries left as far as the flags tell (JPKI: 3 tries): 3, 2, 1 or 0. */
int jpki_ch_pin_tries_left(unsigned long token_flags);
int jpki_ch_pin_format_ok(const char *pin, int digits);

typedef struct {
    const char *program; /* pinentry executable */
    int timeout;         /* seconds the user has to enter the PIN */
} jpki_ch_pinentry_t;

/* Shows the dialog; on JCH_OK the PIN is in pin (NUL-terminated, size
 * JCH_PIN_MAX+1); the caller wipes it. */
jpki_ch_code_t jpki_ch_pinentry_ask(const jpki_ch_pinentry_t *pe, const char *origin,
                                    int tries_left, char *pin);

/* --- jch_p11.c: the card ------------------------------------------------------- */
typedef struct jpki_ch_p11 jpki_ch_p11_t;

typedef struct {
    jpki_ch_p11_t *p11;
    jpki_ch_pinentry_t pinentry;
    int pin_digits; /* 4 for JPKI; 0: any length */
} jpki_ch_card_t;

typedef struct {
    unsigned char sig[512];
    size_t sig_len;
    unsigned char *cert; /* DER, malloc'ed */
    size_t cert_len;
} jpki_ch_signed_t;

/* Loads and initializes the PKCS#11 module; NULL (and *err set) on failure. */
jpki_ch_p11_t *jpki_ch_p11_open(const char *module_path, const char **err);
void jpki_ch_p11_close(jpki_ch_p11_t *p);
/* Finds the one user-authentication certificate, asks the PIN and has the
 * card sign DigestInfo(SHA-256(data)) with CKM_RSA_PKCS. */
jpki_ch_code_t jpki_ch_card_sign(jpki_ch_card_t *card, const char *origin,
                                 const unsigned char *data, size_t len, jpki_ch_signed_t *out);
/* Maps a PKCS#11 return value to a helper code. */
jpki_ch_code_t jpki_ch_p11_code(unsigned long rv);
/* 1 when the DER certificate carries the user-authentication policy. */
int jpki_ch_cert_is_auth(const unsigned char *der, size_t len);

/* --- jch_http.c ---------------------------------------------------------------- */
typedef struct {
    char *origins[JCH_MAX_ORIGINS];
    int norigins;
    unsigned port;
    jpki_ch_card_t *card;
} jpki_ch_server_t;

/* Starts the server on 127.0.0.1:port (0: any); returns the bound port or 0. */
unsigned jpki_ch_http_start(jpki_ch_server_t *srv, const char **err);
void jpki_ch_http_stop(void);

void jpki_ch_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
