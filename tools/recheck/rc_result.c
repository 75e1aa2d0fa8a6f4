/*
 * What a change means (異動の把握, docs/recheck.md "Categories"): the
 * statuses of an account's current user-authentication (auth) and
 * signing (sign) certificates become one category and the action the
 * bank should take. Revocation reasons are RFC 5280 names
 * (jpki-facts.md §2: superseded = renewed, affiliationChanged = the
 * recorded facts changed, certificateHold = held, never released,
 * cessationOfOperation = no longer needed, keyCompromise).
 */
#include "recheck.h"

#include <string.h>

const char *rc_status_name(rc_status_e s)
{
    static const char *const n[] = {"good", "revoked", "expired", "unknown", "unknown"};
    return n[s];
}

static int reason_is(const rc_answer_t *a, const char *r)
{
    return a->status == RC_REVOKED && a->reason != NULL && strcmp(a->reason, r) == 0;
}

/* Held, key compromised or no longer needed: the card is out of use. */
static int out_of_use(const rc_answer_t *a)
{
    return reason_is(a, "certificateHold") || reason_is(a, "keyCompromise") ||
           reason_is(a, "cessationOfOperation");
}

static void set(rc_result_t *o, const char *cat, const char *action, const rc_answer_t *from)
{
    o->category = cat;
    o->action = action;
    o->status = rc_status_name(from->status);
    o->reason = from->status == RC_REVOKED ? (from->reason ? from->reason : "unspecified")
                : from->error              ? from->error
                                           : NULL;
}

int rc_need_sign(const rc_answer_t *auth)
{
    /* Renewed, out of use or no answer: the auth answer decides alone and
     * the signing check (20 yen) is not bought. */
    if (auth->status == RC_NOANSWER || auth->status == RC_UNKNOWN) {
        return 0;
    }
    return !(reason_is(auth, "superseded") || out_of_use(auth));
}

void rc_classify(const rc_answer_t *auth, const rc_answer_t *sign, int has_sign, rc_result_t *out)
{
    if (auth->status == RC_NOANSWER || auth->status == RC_UNKNOWN) {
        set(out, "unknown", "retry_next_run", auth);
    } else if (reason_is(auth, "superseded")) {
        set(out, "renewed", "follow_successor", auth);
    } else if (out_of_use(auth)) {
        set(out, "card_lost_or_suspended", "suspend_and_contact", auth);
    } else if (reason_is(auth, "affiliationChanged") &&
               (!has_sign || reason_is(sign, "affiliationChanged"))) {
        set(out, "died_or_emigrated", "confirm_and_close", has_sign ? sign : auth);
    } else if (auth->status == RC_EXPIRED) {
        set(out, "expired", "ask_to_renew_card", auth);
    } else if (auth->status == RC_REVOKED) {
        set(out, "revoked_other", "review_manually", auth);
    } else if (!has_sign || sign->status == RC_GOOD) {
        set(out, "unchanged", "none", has_sign ? sign : auth);
    } else if (sign->status == RC_NOANSWER || sign->status == RC_UNKNOWN) {
        set(out, "unknown", "retry_next_run", sign);
    } else if (out_of_use(sign)) {
        set(out, "card_lost_or_suspended", "suspend_and_contact", sign);
    } else if (sign->status == RC_REVOKED) {
        set(out, "name_or_address_changed", "request_new_signing_certificate", sign);
    } else {
        set(out, "expired", "ask_to_renew_card", sign);
    }
}

/* Platform per-user check: the state of the user's latest certificate. */
void rc_classify_user(const rc_answer_t *u, rc_result_t *out)
{
    if (u->status == RC_NOANSWER || u->status == RC_UNKNOWN) {
        set(out, "unknown", "retry_next_run", u);
    } else if (u->renewed || reason_is(u, "superseded")) {
        set(out, "renewed", "follow_successor", u);
    } else if (out_of_use(u)) {
        set(out, "card_lost_or_suspended", "suspend_and_contact", u);
    } else if (u->status == RC_REVOKED) {
        set(out, "revoked_other", "review_manually", u);
    } else if (u->status == RC_EXPIRED) {
        set(out, "expired", "ask_to_renew_card", u);
    } else {
        set(out, "unchanged", "none", u);
    }
}
