/*
 * The one table of stable codes (see jpki_errors.h). The rows with
 * metrics_seed 1 are in the order of the metrics' code slots (the order of
 * jpki_logins_total on the jpki-status page): append, never reorder.
 * Codes whose #define lives in a pure header use it; the others
 * (challenge, accounts, login endpoint: headers that need httpd) are
 * spelled out and must match their JPKI_E_* constant.
 */
#include "core/jpki_errors.h"
#include "core/jpki_cert.h"
#include "core/jpki_login_core.h"
#include "core/jpki_status_core.h"

#include <string.h>

const jpki_error_t jpki_errors[] = {
    {"ok", NULL, 1},
    {JPKI_E_CERT_MISSING, "No certificate was presented.", 1},
    {JPKI_E_CERT_TOO_LARGE, "The certificate is too large.", 1},
    {JPKI_E_CERT_MALFORMED, "The certificate could not be read.", 1},
    {JPKI_E_CERT_EXPIRED, "The card's certificate has expired. Renew it at your municipal office.",
     1},
    {JPKI_E_CERT_NOT_YET_VALID, "The card's certificate is not valid yet.", 1},
    {JPKI_E_CERT_UNTRUSTED, "The certificate was not issued by J-LIS.", 1},
    {JPKI_E_CERT_ISSUER_EXPIRED, "The certificate's issuing authority has expired.", 1},
    {JPKI_E_CERT_POLICY, "This is not a My Number Card certificate.", 1},
    {JPKI_E_CERT_WRONG_TYPE, "The wrong certificate of the card was used.", 1},
    {JPKI_E_CERT_KEY_USAGE, "The certificate may not be used for signing in.", 1},
    {JPKI_E_CERT_WEAK_KEY, "The certificate's key is too weak.", 1},
    {JPKI_E_CERT_WEAK_SIGNATURE, "The certificate uses a weak signature algorithm.", 1},
    {JPKI_E_CERT_CRITICAL_EXT, "The certificate has an extension this site does not accept.", 1},
    {JPKI_E_CERT_TEST_HIERARCHY, "Test cards are not accepted here.", 1},
    {"signature_invalid", "The card's signature does not match.", 1},
    {"signature_malformed", "The signature could not be read.", 1},
    {"challenge_unknown", NULL, 1},
    {"challenge_replayed", NULL, 1},
    {"challenge_expired", NULL, 1},
    {"challenge_wrong_browser", NULL, 1},
    {"challenge_scope", "This login was started on another site. Start again.", 1},
    {"malformed_json", NULL, 1},
    {"malformed_request", NULL, 1},
    {"invalid_return_to", NULL, 1},
    {"body_too_large", NULL, 1},
    {"cache_unavailable", NULL, 1},
    {"session_unavailable", NULL, 1},
    {"not_configured", NULL, 1},
    {JPKI_E_CLIENT_DATA_MISSING, "The card helper is too old: update it.", 1},
    {JPKI_E_CLIENT_DATA_INVALID, "The card helper's answer could not be read.", 1},
    {JPKI_E_ORIGIN_MISMATCH, "The card signed for another website.", 1},
    /* status (docs/status.md) */
    {JPKI_E_CERT_REVOKED, "This certificate has been revoked.", 1},
    {JPKI_E_CERT_REVOKED_SUPERSEDED,
     "This certificate was replaced by a renewed one. Use your current card.", 1},
    {JPKI_E_CERT_REVOKED_AFFILIATION,
     "The card's details changed, so this certificate is no longer valid. Register again.", 1},
    {JPKI_E_CERT_REVOKED_CESSATION, "This certificate is no longer in use.", 1},
    {JPKI_E_CERT_REVOKED_HOLD, "This certificate is suspended. Ask your municipal office.", 1},
    {JPKI_E_CERT_REVOKED_KEY_COMPROMISE,
     "This certificate was revoked because its key may be compromised.", 1},
    {JPKI_E_CERT_STATUS_UNKNOWN, "The status service does not know this certificate.", 1},
    {JPKI_E_STATUS_UNAVAILABLE,
     "The certificate's status cannot be checked right now. Please try again later.", 1},
    /* accounts (docs/accounts.md) */
    {"link_pending", "Your renewed card is not linked yet. Try again later.", 1},
    {"no_account", "No account is linked to this card. Register first.", 1},
    {"account_removed", "This account no longer exists.", 1},
    {"account_unavailable", "The account service is temporarily unavailable.", 1},
    {"account_unknown", NULL, 1},
    {"person_mismatch", "The two certificates belong to different people.", 1},
    {"person_unverified", "The two certificates could not be tied to one person.", 1},
    {"sign_proof_missing", "Sign with the signing certificate of your card.", 1},
    {NULL, NULL, 0}};

const char *jpki_errors_message(const char *code)
{
    int i;
    for (i = 0; jpki_errors[i].code; i++) {
        if (strcmp(jpki_errors[i].code, code) == 0) {
            return jpki_errors[i].msg;
        }
    }
    return NULL;
}
