/*
 * The one message table (see jpki_messages.h): code -> Japanese title and
 * advice, English title and advice. Every row is shown by the login page
 * (htdocs/jpki-messages.js is generated from it) and by the refusal pages.
 * Texts are plain: no markup (the page sets them as text, C escapes them).
 */
#include "core/jpki_messages.h"

#include <string.h>

/* Advice shared by several codes. */
#define A_NOTCARD_JA                                                                                                                             \
    "このカードの証明書ではログインできません。マイナンバーカードの利用者証明用電子証明書でログイ" \
    "ンしてください。"
#define A_NOTCARD_EN                                                                               \
    "This certificate cannot be used to log in. Use the user-authentication certificate of your "  \
    "My Number Card."
#define A_RESTART_JA                                                                               \
    "ログインの有効時間が切れたか、手続きが中断されました。もう一度「ログイン」を押してください。"
#define A_RESTART_EN "The login timed out or was interrupted. Press \"Log in\" again."
#define A_RELOAD_JA                                                                                                                              \
    "ページを再読み込みして、もう一度お試しください。続く場合はサイトの問い合わせ窓口にご連絡くだ" \
    "さい。"
#define A_RELOAD_EN                                                                                \
    "Reload the page and try again. If this keeps happening, contact the site's help desk."
#define A_LATER_JA  "ただいまログインできません。しばらくしてからもう一度お試しください。"
#define A_LATER_EN  "Logging in is not possible right now. Please try again in a few minutes."
#define A_HELPER_JA "カードヘルパーを確認し、カードを置き直してからもう一度お試しください。"
#define A_HELPER_EN "Check the card helper, place the card on the reader again and retry."

const jpki_message_t jpki_messages[] = {
    {"cert_missing", "証明書が届きませんでした",
     "マイナンバーカードを読み取り機に置いて、もう一度ログインしてください。",
     "No certificate was received", "Place your My Number Card on the reader and log in again."},
    {"cert_too_large", "証明書を読み取れませんでした", A_NOTCARD_JA,
     "The certificate could not be read", A_NOTCARD_EN},
    {"cert_malformed", "証明書を読み取れませんでした", A_NOTCARD_JA,
     "The certificate could not be read", A_NOTCARD_EN},
    {"cert_expired", "電子証明書の有効期限が切れています",
     "お住まいの市区町村の窓口で利用者証明用電子証明書を更新してください。更新後は新しい証明書でロ"
     "グインできます。",
     "Your card's certificate has expired",
     "Renew the user-authentication certificate at your municipal office (city, ward, town or "
     "village office). After renewal you can log in with the new certificate."},
    {"cert_not_yet_valid", "電子証明書はまだ使えません",
     "更新したばかりの電子証明書は、オンラインで使えるようになるまで最大24時間かかります。しばらく"
     "してからもう一度お試しください。",
     "The certificate is not valid yet",
     "A newly renewed certificate can take up to 24 hours before it works online. Please try again "
     "later."},
    {"cert_untrusted", "J-LIS が発行した証明書ではありません", A_NOTCARD_JA,
     "The certificate was not issued by J-LIS", A_NOTCARD_EN},
    {"cert_issuer_expired", "証明書の発行元の有効期限が切れています",
     "お住まいの市区町村の窓口で電子証明書を更新してください。",
     "The certificate's issuer has expired", "Renew the certificate at your municipal office."},
    {"cert_policy", "マイナンバーカードの証明書ではありません", A_NOTCARD_JA,
     "This is not a My Number Card certificate", A_NOTCARD_EN},
    {"cert_wrong_type", "署名用電子証明書が使われました",
     "ログインには利用者証明用電子証明書（4桁の暗証番号）を使います。カードヘルパーで利用者証明用を"
     "選んでください。",
     "The signing certificate was used",
     "Logging in uses the user-authentication certificate (4-digit PIN). Choose it in the card "
     "helper."},
    {"cert_key_usage", "この証明書はログインに使えません", A_NOTCARD_JA,
     "This certificate may not be used to log in", A_NOTCARD_EN},
    {"cert_weak_key", "証明書の鍵が弱すぎます", A_NOTCARD_JA, "The certificate's key is too weak",
     A_NOTCARD_EN},
    {"cert_weak_signature", "証明書の署名方式が弱すぎます", A_NOTCARD_JA,
     "The certificate uses a weak signature", A_NOTCARD_EN},
    {"cert_critical_extension", "この証明書は受け付けられません", A_NOTCARD_JA,
     "This certificate is not accepted", A_NOTCARD_EN},
    {"cert_test_hierarchy", "試験用カードは使えません",
     "このサイトでは試験用カードは使えません。本物のマイナンバーカードでログインしてください。",
     "Test cards are not accepted",
     "This site does not accept test cards. Log in with a real My Number Card."},
    {"cert_status_unknown", "電子証明書の状態を確認できませんでした",
     "発行元がこの電子証明書を把握していません。しばらくしてからもう一度お試しください。続く場合は"
     "お問い合わせ窓口にご連絡ください。",
     "The certificate status could not be determined",
     "The issuer does not know this certificate. Please try again later; if this continues, "
     "contact customer support."},
    {"cert_revoked", "この電子証明書は失効しています",
     "カードの電子証明書が失効しています（紛失の届出や廃止など）。お住まいの市区町村の窓口で電子証"
     "明書の再発行を受けてください。",
     "This certificate has been revoked",
     "Your card's certificate has been revoked (for example after a loss report). Have it reissued "
     "at your municipal office."},
    {"cert_revoked_superseded", "電子証明書は新しいものに切り替わっています",
     "この証明書は更新により置き換えられました。新しい電子証明書（新しいカード、または更新後のカー"
     "ド）でログインしてください。",
     "This certificate has been replaced",
     "This certificate was replaced by a renewal. Log in with your new certificate (your new card, "
     "or the card after renewal)."},
    {"signature_invalid", "カードの署名を確認できませんでした",
     "署名と証明書が一致しません。もう一度お試しください。続く場合はカードヘルパーを再起動してくだ"
     "さい。",
     "The card's signature could not be verified",
     "The signature does not match the certificate. Try again; if it keeps failing, restart the "
     "card helper."},
    {"signature_malformed", "カードの署名を読み取れませんでした", A_HELPER_JA,
     "The card's signature could not be read", A_HELPER_EN},
    {"client_data_missing", "カードヘルパーの更新が必要です",
     "お使いのカードヘルパー（カード読み取り用アプリ）は古い方式で署名しました。最新版に更新してか"
     "ら、もう一度ログインしてください。",
     "The card helper needs to be updated",
     "Your card helper (the card reader app) signed in an old way. Update it to the latest "
     "version, then log in again."},
    {"client_data_invalid", "カードヘルパーの応答を確認できませんでした", A_HELPER_JA,
     "The card helper's answer could not be checked", A_HELPER_EN},
    {"origin_mismatch", "このサイトのための署名ではありません",
     "カードの署名が別のサイト向けに作られました。このサイトのトップページまたはブックマークから開"
     "き直してログインしてください。メールやSMSのリンクから来た場合は、偽サイトの可能性があります"
     "。",
     "The card signed for another website",
     "The signature was made for a different site. Open this site again from its home page or your "
     "bookmark and log in. If a link in an e-mail or SMS brought you here, it may be a fake site."},
    {"challenge_unknown", "ログインをやり直してください", A_RESTART_JA,
     "Please start the login again", A_RESTART_EN},
    {"challenge_replayed", "ログインをやり直してください", A_RESTART_JA,
     "Please start the login again", A_RESTART_EN},
    {"challenge_expired", "ログインの有効時間が切れました", A_RESTART_JA, "The login timed out",
     A_RESTART_EN},
    {"challenge_wrong_browser", "ブラウザーを確認できませんでした",
     "Cookie を有効にして、同じブラウザーのこのページからもう一度ログインしてください。",
     "This browser could not be recognised",
     "Enable cookies and log in again from this page in the same browser."},
    {"challenge_scope", "別のサイトで始めたログインです",
     "このページを開き直して、このサイトでもう一度ログインしてください。",
     "This login was started on another site", "Reload this page and log in again on this site."},
    {"session_scope", "ほかのサイトのログイン状態は使えません",
     "このサイトでもう一度ログインしてください。", "A login from another site cannot be used here",
     "Please log in again on this site."},
    {"logout_cross_site", "ログアウトできませんでした",
     "ログアウトは、このサイトのログアウトページから行ってください。",
     "You could not be logged out", "Log out from this site's own logout page."},
    {"malformed_json", "ログインの要求が正しくありません", A_RELOAD_JA,
     "The login request was not valid", A_RELOAD_EN},
    {"malformed_request", "ログインの要求が正しくありません", A_RELOAD_JA,
     "The login request was not valid", A_RELOAD_EN},
    {"body_too_large", "ログインの要求が大きすぎます", A_RELOAD_JA,
     "The login request is too large", A_RELOAD_EN},
    {"unsupported_media_type", "ログインの要求が正しくありません", A_RELOAD_JA,
     "The login request was not valid", A_RELOAD_EN},
    {"method_not_allowed", "ログインの要求が正しくありません", A_RELOAD_JA,
     "The login request was not valid", A_RELOAD_EN},
    {"invalid_return_to", "ログイン後の移動先が正しくありません",
     "リンクが正しくない可能性があります。サイトのトップページから開き直してください。",
     "The page to return to is not valid",
     "The link may be wrong. Open the site again from its home page."},
    {"login_required", "ログインが必要です", "マイナンバーカードでログインしてください。",
     "Please log in", "Log in with your My Number Card."},
    {"no_account", "このカードに対応するアカウントがありません",
     "初めてご利用の方は、利用登録をしてください。登録済みの方は、登録に使ったカードでログインして"
     "ください。",
     "There is no account for this card",
     "If you are new, please register first. If you have registered, log in with the card you "
     "registered with."},
    {"account_unavailable", "ただいま会員情報を確認できません",
     "しばらく時間をおいてから、もう一度お試しください。",
     "Your account cannot be checked right now", "Please try again in a few minutes."},
    {"account_removed", "このアカウントは利用できなくなりました",
     "アカウントが削除されたか、別のアカウントに移されました。お問い合わせ窓口にご連絡ください。",
     "This account is no longer available",
     "The account was removed or moved. Please contact customer support."},
    {"account_unknown", "アカウントが見つかりません", "お問い合わせ窓口にご連絡ください。",
     "The account was not found", "Please contact customer support."},
    {"age_under", "年齢の条件を満たしていません",
     "このサービスはご利用いただける年齢が決められています。",
     "You do not meet the age requirement", "This service has a minimum age."},
    {"age_unknown", "生年月日が登録されていません",
     "署名用電子証明書で利用登録を行うと、年齢を確認できるようになります。",
     "No birth date is registered",
     "Register with the signature certificate of your card so that your age can be checked."},
    {"sign_proof_missing", "署名用電子証明書による確認が必要です",
     "署名用電子証明書（6〜16桁のパスワード）で署名してください。",
     "A signature with the signature certificate is required",
     "Please sign with the signature certificate of your card (6-16 character password)."},
    {"person_mismatch", "2つの証明書の持ち主が一致しません",
     "ログインに使ったカードと同じカードの署名用電子証明書を使ってください。",
     "The two certificates belong to different people",
     "Use the signature certificate of the same card you logged in with."},
    {"account_api_unauthenticated", "この操作は許可されていません",
     "サイトの内部機能への要求が認証されていません。お問い合わせ窓口にご連絡ください。",
     "This operation is not allowed",
     "A request to an internal function of the site was not authenticated. Please contact customer "
     "support."},
    {"account_api_unconfigured", "ただいまこの機能は利用できません",
     "サイトの設定に問題があります。お問い合わせ窓口にご連絡ください。",
     "This function is not available right now",
     "The site is not configured for it. Please contact customer support."},
    {"account_link_conflict", "このカードは別のアカウントに登録されています",
     "登録内容を変更する場合は、お問い合わせ窓口にご連絡ください。",
     "This card is registered to another account",
     "To change the registration, please contact customer support."},
    {"cert_no_facts", "署名用電子証明書から登録情報を読み取れませんでした",
     "マイナンバーカードの署名用電子証明書で、もう一度お試しください。続く場合はお問い合わせ窓口に"
     "ご連絡ください。",
     "The signing certificate's details could not be read",
     "Try again with the signing certificate of your My Number Card. If this continues, contact "
     "customer support."},
    {"person_unverified", "本人確認ができませんでした",
     "しばらくしてからもう一度お試しください。続く場合はお問い合わせ窓口にご連絡ください。",
     "Your identity could not be confirmed",
     "Please try again later. If this continues, contact customer support."},
    {"invalid_format", "表示形式が正しくありません",
     "管理者向けの状態ページの形式指定（format）が正しくありません。", "Unknown format",
     "The status page format parameter is not valid."},
    {"metrics_unavailable", "状態情報を表示できません",
     "管理者向けの状態ページが利用できません。サーバーのログを確認してください。",
     "Status information is unavailable", "The status page is unavailable. Check the server log."},
    {"link_pending", "証明書の更新がまだ反映されていません",
     "電子証明書を更新したばかりの場合、反映まで時間がかかります。しばらくしてからもう一度お試しく"
     "ださい。",
     "Your certificate renewal is not known yet",
     "If you renewed your certificate recently, it takes some time to be recognised. Please try "
     "again later."},
    {"status_unavailable", "証明書の状態を確認できません", A_LATER_JA,
     "The certificate status cannot be checked", A_LATER_EN},
    {"cache_unavailable", "ただいまログインできません", A_LATER_JA, "Logging in is unavailable",
     A_LATER_EN},
    {"session_unavailable", "ただいまログインできません", A_LATER_JA, "Logging in is unavailable",
     A_LATER_EN},
    {"not_configured", "サイトの設定に問題があります", "サイトの管理者にお問い合わせください。",
     "The site is not set up correctly", "Please contact the site administrator."},
    {"helper_unreachable", "カードヘルパーに接続できません",
     "カードヘルパー（カード読み取り用アプリ）が起動しているか確認して、もう一度お試しください。",
     "The card helper cannot be reached",
     "Check that the card helper (the card reader app) is running, then try again."},
    {"helper_timeout", "カードの操作が時間切れになりました", A_HELPER_JA,
     "The card did not answer in time", A_HELPER_EN},
    {"helper_card_not_found", "カードが見つかりません",
     "カードを読み取り機に正しく置いて、もう一度お試しください。", "No card was found",
     "Place the card on the reader properly and try again."},
    {"helper_pin_cancelled", "暗証番号の入力が取り消されました",
     "もう一度「ログイン」を押してください。", "The PIN entry was cancelled",
     "Press \"Log in\" again."},
    {"helper_pin_blocked", "暗証番号がロックされています",
     "暗証番号を続けて間違えたためロックされました。お住まいの市区町村の窓口でロックを解除してくだ"
     "さい。",
     "The PIN is locked",
     "The PIN was entered wrongly too many times. Have it unlocked at your municipal office."},
    {"helper_origin_refused", "カードヘルパーがこのサイトを許可していません",
     "カードヘルパーの設定を確認してください。", "The card helper does not allow this site",
     "Check the card helper's settings."},
    {"helper_error", "カードで署名できませんでした", A_HELPER_JA, "The card could not sign",
     A_HELPER_EN},
    {"helper_reader_not_found", "カード読み取り機が見つかりません",
     "読み取り機がパソコンに接続されているか確認して、もう一度お試しください。",
     "No card reader was found",
     "Check that the card reader is connected to the PC, then try again."},
    {"helper_card_ambiguous", "複数のカードが置かれています",
     "ログインに使うカードを1枚だけ読み取り機に置いてください。", "More than one card was found",
     "Leave only the card you log in with on the reader."},
    {"helper_card_removed", "署名中にカードが外れました",
     "カードを読み取り機に置いたまま、もう一度お試しください。",
     "The card was removed while signing", "Keep the card on the reader and try again."},
    {"helper_pin_incorrect", "暗証番号が違います",
     "利用者証明用の暗証番号（数字4桁）を確認してください。3回続けて間違えるとロックされます。",
     "The PIN is incorrect",
     "Check the 4-digit user-authentication PIN. Three wrong tries in a row lock it."},
    {"helper_pin_final_try", "暗証番号の残り回数が1回です",
     "安全のためカードヘルパーは入力を求めませんでした。お住まいの市区町村の窓口で暗証番号を再設定"
     "してください。",
     "Only one PIN try is left",
     "For safety the card helper did not ask for the PIN. Have it reset at your municipal office."},
    {"helper_pin_invalid", "暗証番号は数字4桁です",
     "カードには送っていません（残り回数は減っていません）。もう一度お試しください。",
     "The PIN is 4 digits", "It was not sent to the card (no try was used). Please try again."},
    {"helper_pin_timeout", "暗証番号の入力が時間切れになりました",
     "もう一度「ログイン」を押してください。", "The PIN entry timed out",
     "Press \"Log in\" again."},
    {"helper_busy", "別の署名を処理中です",
     "他のタブやウィンドウのログインが終わってから、もう一度お試しください。",
     "Another signature is in progress",
     "Finish the login in the other tab or window, then try again."},
    {"helper_request_too_large", "カードヘルパーへの要求が大きすぎます", A_RELOAD_JA,
     "The request to the card helper is too large", A_RELOAD_EN},
    {"helper_pinentry_failed", "暗証番号の入力画面を開けませんでした",
     "カードヘルパーの設定（pinentry）を確認してください。", "The PIN dialog could not be opened",
     "Check the card helper's pinentry setting."},
    {"helper_bad_response", "カードヘルパーの応答が正しくありません", A_HELPER_JA,
     "The card helper gave an invalid answer", A_HELPER_EN},
    {"software_missing", "鍵と証明書を指定してください",
     "試験用の秘密鍵（PKCS#8 PEM）と証明書を選ぶか貼り付けてください。",
     "Key and certificate are needed",
     "Choose or paste a test private key (PKCS#8 PEM) and its certificate."},
    {"software_key_format", "秘密鍵を読み込めませんでした",
     "暗号化されていない PKCS#8 PEM（BEGIN PRIVATE KEY）の RSA 鍵を指定してください。",
     "The private key could not be read",
     "Use an unencrypted RSA key in PKCS#8 PEM (BEGIN PRIVATE KEY)."},
    {"software_cert_format", "証明書を読み込めませんでした",
     "PEM または base64 の DER 証明書を指定してください。", "The certificate could not be read",
     "Use a PEM certificate or base64 DER."},
    {"network_error", "サーバーに接続できません",
     "インターネット接続を確認して、もう一度お試しください。", "The server cannot be reached",
     "Check your connection and try again."},
    {"bad_response", "サーバーの応答が正しくありません", A_LATER_JA,
     "The server gave an invalid answer", A_LATER_EN},
    {"unsafe_redirect", "移動先が安全でないため移動しませんでした",
     "サイトのトップページから開き直してください。",
     "Not redirected: the destination is not on this site",
     "Open the site again from its home page."},
    {"unknown", "ログインできませんでした", A_RELOAD_JA, "The login was refused", A_RELOAD_EN},
    {NULL, NULL, NULL, NULL, NULL}};

int jpki_messages_has(const char *code)
{
    int i;
    if (code == NULL) {
        return 0;
    }
    for (i = 0; jpki_messages[i].code; i++) {
        if (strcmp(jpki_messages[i].code, code) == 0) {
            return 1;
        }
    }
    return 0;
}

static const jpki_message_t *row(const char *code)
{
    int i;
    for (i = 0; jpki_messages[i].code; i++) {
        if (strcmp(jpki_messages[i].code, code) == 0) {
            return &jpki_messages[i];
        }
    }
    return NULL;
}

const jpki_message_t *jpki_messages_find(const char *code)
{
    const jpki_message_t *m = code != NULL ? row(code) : NULL;
    if (m == NULL && code != NULL && strncmp(code, "cert_revoked", 12) == 0) {
        m = row("cert_revoked"); /* every revocation reason a provider may name */
    }
    return m != NULL ? m : row("unknown");
}
