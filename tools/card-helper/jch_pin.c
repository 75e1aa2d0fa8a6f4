/* The PIN: the rules on the token's flags (pure, unit-tested) and the dialog,
 * GnuPG's pinentry spoken to through libassuan. The PIN never leaves this
 * process except into C_Login, and is never logged. */
#include "jch.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <assuan.h>
#include <p11-kit/pkcs11.h>

jpki_ch_pin_decision_t jpki_ch_pin_decide(unsigned long f)
{
    if (f & CKF_USER_PIN_LOCKED)
        return JCH_PIN_LOCKED;
    /* One wrong PIN would lock the card: do not risk it, ever. */
    if (f & CKF_USER_PIN_FINAL_TRY)
        return JCH_PIN_FINAL_TRY;
    if (f & CKF_PROTECTED_AUTHENTICATION_PATH)
        return JCH_PIN_PINPAD;
    if (f & CKF_USER_PIN_COUNT_LOW)
        return JCH_PIN_GO_LOW;
    return JCH_PIN_GO;
}

int jpki_ch_pin_tries_left(unsigned long f)
{
    if (f & CKF_USER_PIN_LOCKED)
        return 0;
    if (f & CKF_USER_PIN_FINAL_TRY)
        return 1;
    if (f & CKF_USER_PIN_COUNT_LOW)
        return 2;
    return 3;
}

int jpki_ch_pin_format_ok(const char *pin, int digits)
{
    size_t n = strlen(pin);
    if (n == 0 || n > JCH_PIN_MAX)
        return 0;
    if (digits <= 0)
        return 1;
    if (n != (size_t)digits)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (pin[i] < '0' || pin[i] > '9')
            return 0;
    return 1;
}

/* Assuan arguments: %, CR, LF and controls percent-escaped. */
static void escape(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    for (; *in && o + 4 < outsz; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '%' || c < 0x20)
            o += (size_t)snprintf(out + o, outsz - o, "%%%02X", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

typedef struct {
    char *pin;
    size_t len;
    int overflow;
} pin_buf_t;

static gpg_error_t pin_data(void *opaque, const void *buf, size_t len)
{
    pin_buf_t *b = opaque;
    if (b->len + len > JCH_PIN_MAX) {
        b->overflow = 1;
        return 0;
    }
    memcpy(b->pin + b->len, buf, len);
    b->len += len;
    b->pin[b->len] = '\0';
    return 0;
}

/* The watchdog: kills a pinentry that outlives its own timeout, so a hung
 * dialog cannot hold the card helper forever. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, fired;
    pid_t pid;
    int seconds;
} watchdog_t;

static void *watchdog_run(void *arg)
{
    watchdog_t *w = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += w->seconds;
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
            break;
    if (!w->done && w->pid > 0) {
        w->fired = 1;
        kill(w->pid, SIGKILL);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static gpg_error_t say(assuan_context_t ctx, const char *cmd, const char *arg)
{
    char esc[1024], line[1100];
    escape(arg ? arg : "", esc, sizeof esc);
    snprintf(line, sizeof line, "%s %s", cmd, esc);
    return assuan_transact(ctx, line, NULL, NULL, NULL, NULL, NULL, NULL);
}

static void describe(char *out, size_t outsz, const char *origin, int tries_left)
{
    snprintf(out, outsz,
             "%s asks to log you in with your My Number Card.\n"
             "%s がマイナンバーカードでのログインを求めています。\n\n"
             "Enter the user-authentication PIN (4 digits).\n"
             "利用者証明用電子証明書の暗証番号（数字4桁）を入力してください。\n\n"
             "Tries left / 残り回数: %d%s",
             origin, origin, tries_left,
             tries_left <= 2
                 ? "\nCareful: after 3 wrong PINs the card locks. / 3回間違えるとロックされます。"
                 : "");
}

static jpki_ch_code_t map_getpin(gpg_error_t err, const watchdog_t *w)
{
    if (w->fired)
        return JCH_E_PIN_TIMEOUT;
    switch (gpg_err_code(err)) {
    case GPG_ERR_CANCELED:
    case GPG_ERR_FULLY_CANCELED:
        return JCH_E_PIN_CANCELLED;
    case GPG_ERR_TIMEOUT:
        return JCH_E_PIN_TIMEOUT;
    default:
        return JCH_E_PINENTRY_FAILED;
    }
}

static jpki_ch_code_t converse(assuan_context_t ctx, const jpki_ch_pinentry_t *pe,
                               const char *origin, int tries_left, char *pin, watchdog_t *w)
{
    char desc[900], num[16];
    const char *tty = ttyname(STDIN_FILENO), *term = getenv("TERM");
    pin_buf_t b = {pin, 0, 0};
    gpg_error_t err;

    if (tty) {
        char opt[300];
        snprintf(opt, sizeof opt, "ttyname=%s", tty);
        say(ctx, "OPTION", opt);
        if (term) {
            snprintf(opt, sizeof opt, "ttytype=%s", term);
            say(ctx, "OPTION", opt);
        }
    }
    describe(desc, sizeof desc, origin, tries_left);
    snprintf(num, sizeof num, "%d", pe->timeout);
    if (say(ctx, "SETTITLE", "JPKI card helper / マイナンバーカード") ||
        say(ctx, "SETDESC", desc) || say(ctx, "SETPROMPT", "PIN:") || say(ctx, "SETTIMEOUT", num))
        return w->fired ? JCH_E_PIN_TIMEOUT : JCH_E_PINENTRY_FAILED;
    assuan_begin_confidential(ctx);
    err = assuan_transact(ctx, "GETPIN", pin_data, &b, NULL, NULL, NULL, NULL);
    assuan_end_confidential(ctx);
    if (err)
        return map_getpin(err, w);
    if (b.overflow || b.len == 0)
        return b.len == 0 && !b.overflow ? JCH_E_PIN_CANCELLED : JCH_E_PIN_INVALID;
    return JCH_OK;
}

jpki_ch_code_t jpki_ch_pinentry_ask(const jpki_ch_pinentry_t *pe, const char *origin,
                                    int tries_left, char *pin)
{
    assuan_context_t ctx = NULL;
    const char *argv[] = {pe->program, NULL};
    watchdog_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, pe->timeout + 5};
    pthread_t th;
    jpki_ch_code_t rc;

    pin[0] = '\0';
    if (assuan_new(&ctx))
        return JCH_E_PINENTRY_FAILED;
    if (assuan_pipe_connect(ctx, pe->program, argv, NULL, NULL, NULL, 0)) {
        assuan_release(ctx);
        return JCH_E_PINENTRY_FAILED;
    }
    w.pid = assuan_get_pid(ctx);
    if (pthread_create(&th, NULL, watchdog_run, &w)) {
        assuan_release(ctx);
        return JCH_E_PINENTRY_FAILED;
    }
    rc = converse(ctx, pe, origin, tries_left, pin, &w);
    pthread_mutex_lock(&w.mu);
    w.done = 1;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
    pthread_join(th, NULL);
    if (rc == JCH_OK && w.fired)
        rc = JCH_E_PIN_TIMEOUT;
    if (rc != JCH_OK)
        explicit_bzero(pin, JCH_PIN_MAX + 1);
    assuan_release(ctx); /* says BYE and reaps the pinentry */
    return rc;
}
