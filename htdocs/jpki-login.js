/*
 * mod_jpki login and logout pages (docs/login-page.md). No framework, no
 * inline script, no other origin: runs under CSP default-src 'self'.
 *
 * Login: GET challenge -> signer adapter (jpki-signers.js) -> POST login ->
 * navigate to the server's "redirect" (same-origin paths only). Every stable
 * error code of docs/errors.md is mapped to advice in Japanese and English.
 */
(function () {
    'use strict';

    var UI = {
        ja: {
            toggle: 'English',
            title: 'マイナンバーカードでログイン',
            intro: 'マイナンバーカードの利用者証明用電子証明書（4桁の暗証番号）でログインします。',
            signer_legend: '署名の方法',
            signer_card: 'カード読み取り機（カードヘルパー）',
            signer_software: 'ソフトウェア署名（試験・デモ専用）',
            sw_title: 'ソフトウェア署名（試験・デモ専用）',
            sw_warning: '試験用の鍵専用です。本物のカードの鍵や個人の鍵は絶対に入力しないでください。',
            sw_key_file: '秘密鍵ファイル（PKCS#8 PEM）',
            sw_key_text: 'または秘密鍵を貼り付け',
            sw_cert_file: '証明書ファイル（PEM または DER）',
            sw_cert_text: 'または証明書を貼り付け（PEM または base64）',
            card_hint: 'カードを読み取り機に置いてから「ログイン」を押してください。カードヘルパーが暗証番号を尋ねます。',
            login_button: 'ログイン',
            step_prepare: '準備',
            step_card: 'カード',
            step_check: '確認',
            step_done: '完了',
            register_link: '利用登録へ進む',
            error_code: 'エラーコード',
            logout_link: 'ログアウト',
            logout_title: 'ログアウト',
            logout_intro: 'このブラウザーのログイン状態を終了します。',
            logout_button: 'ログアウトする',
            login_again: 'ログイン画面へ',
            st_prepare: 'ログインの準備をしています…',
            st_card: 'カードを待っています。カードを読み取り機に置き、カードヘルパーの画面で利用者証明用の暗証番号（4桁）を入力してください。',
            st_signing: '署名しています…',
            st_check: 'サーバーで確認しています…',
            st_done: 'ログインしました。移動しています…',
            st_done_stay: 'ログインしました。',
            st_failed: 'ログインできませんでした。',
            st_logging_out: 'ログアウトしています…',
            st_logged_out: 'ログアウトしました。'
        },
        en: {
            toggle: '日本語',
            title: 'Log in with your My Number Card',
            intro: 'You log in with the user-authentication certificate of your My Number Card (4-digit PIN).',
            signer_legend: 'How to sign',
            signer_card: 'Card reader (card helper)',
            signer_software: 'Software signer (tests and demo only)',
            sw_title: 'Software signer (tests and demo only)',
            sw_warning: 'For test keys only. Never enter the key of a real card or any personal key.',
            sw_key_file: 'Private key file (PKCS#8 PEM)',
            sw_key_text: 'or paste the private key',
            sw_cert_file: 'Certificate file (PEM or DER)',
            sw_cert_text: 'or paste the certificate (PEM or base64)',
            card_hint: 'Place your card on the reader, then press "Log in". The card helper will ask for your PIN.',
            login_button: 'Log in',
            step_prepare: 'Prepare',
            step_card: 'Card',
            step_check: 'Check',
            step_done: 'Done',
            register_link: 'Register',
            error_code: 'Error code',
            logout_link: 'Log out',
            logout_title: 'Log out',
            logout_intro: 'This ends your login in this browser.',
            logout_button: 'Log out',
            login_again: 'Back to the login page',
            st_prepare: 'Preparing the login…',
            st_card: 'Waiting for the card. Place it on the reader and enter your 4-digit user-authentication PIN in the card helper.',
            st_signing: 'Signing…',
            st_check: 'Checking with the server…',
            st_done: 'Logged in. Taking you on…',
            st_done_stay: 'Logged in.',
            st_failed: 'The login did not succeed.',
            st_logging_out: 'Logging out…',
            st_logged_out: 'You are logged out.'
        }
    };

    /* Advice shared by several codes. */
    var A = {
        notCard: ['このカードの証明書ではログインできません。マイナンバーカードの利用者証明用電子証明書でログインしてください。',
                  'This certificate cannot be used to log in. Use the user-authentication certificate of your My Number Card.'],
        restart: ['ログインの有効時間が切れたか、手続きが中断されました。もう一度「ログイン」を押してください。',
                  'The login timed out or was interrupted. Press "Log in" again.'],
        reload: ['ページを再読み込みして、もう一度お試しください。続く場合はサイトの問い合わせ窓口にご連絡ください。',
                 'Reload the page and try again. If this keeps happening, contact the site\'s help desk.'],
        later: ['ただいまログインできません。しばらくしてからもう一度お試しください。',
                'Logging in is not possible right now. Please try again in a few minutes.'],
        helper: ['カードヘルパーを確認し、カードを置き直してからもう一度お試しください。',
                 'Check the card helper, place the card on the reader again and retry.']
    };

    /* code -> [ja title, ja advice, en title, en advice] */
    var ERR = {
        cert_missing: ['証明書が届きませんでした', 'マイナンバーカードを読み取り機に置いて、もう一度ログインしてください。',
                       'No certificate was received', 'Place your My Number Card on the reader and log in again.'],
        cert_too_large: ['証明書を読み取れませんでした', A.notCard[0], 'The certificate could not be read', A.notCard[1]],
        cert_malformed: ['証明書を読み取れませんでした', A.notCard[0], 'The certificate could not be read', A.notCard[1]],
        cert_expired: ['電子証明書の有効期限が切れています',
                       'お住まいの市区町村の窓口で利用者証明用電子証明書を更新してください。更新後は新しい証明書でログインできます。',
                       'Your card\'s certificate has expired',
                       'Renew the user-authentication certificate at your municipal office (city, ward, town or village office). After renewal you can log in with the new certificate.'],
        cert_not_yet_valid: ['電子証明書はまだ使えません',
                             '更新したばかりの電子証明書は、オンラインで使えるようになるまで最大24時間かかります。しばらくしてからもう一度お試しください。',
                             'The certificate is not valid yet',
                             'A newly renewed certificate can take up to 24 hours before it works online. Please try again later.'],
        cert_untrusted: ['J-LIS が発行した証明書ではありません', A.notCard[0], 'The certificate was not issued by J-LIS', A.notCard[1]],
        cert_issuer_expired: ['証明書の発行元の有効期限が切れています',
                              'お住まいの市区町村の窓口で電子証明書を更新してください。',
                              'The certificate\'s issuer has expired',
                              'Renew the certificate at your municipal office.'],
        cert_policy: ['マイナンバーカードの証明書ではありません', A.notCard[0], 'This is not a My Number Card certificate', A.notCard[1]],
        cert_wrong_type: ['署名用電子証明書が使われました',
                          'ログインには利用者証明用電子証明書（4桁の暗証番号）を使います。カードヘルパーで利用者証明用を選んでください。',
                          'The signing certificate was used',
                          'Logging in uses the user-authentication certificate (4-digit PIN). Choose it in the card helper.'],
        cert_key_usage: ['この証明書はログインに使えません', A.notCard[0], 'This certificate may not be used to log in', A.notCard[1]],
        cert_weak_key: ['証明書の鍵が弱すぎます', A.notCard[0], 'The certificate\'s key is too weak', A.notCard[1]],
        cert_weak_signature: ['証明書の署名方式が弱すぎます', A.notCard[0], 'The certificate uses a weak signature', A.notCard[1]],
        cert_critical_extension: ['この証明書は受け付けられません', A.notCard[0], 'This certificate is not accepted', A.notCard[1]],
        cert_test_hierarchy: ['試験用カードは使えません',
                              'このサイトでは試験用カードは使えません。本物のマイナンバーカードでログインしてください。',
                              'Test cards are not accepted',
                              'This site does not accept test cards. Log in with a real My Number Card.'],
        cert_status_unknown: ['電子証明書の状態を確認できませんでした',
                              '発行元がこの電子証明書を把握していません。しばらくしてからもう一度お試しください。続く場合はお問い合わせ窓口にご連絡ください。',
                              'The certificate status could not be determined',
                              'The issuer does not know this certificate. Please try again later; if this continues, contact customer support.'],
        cert_revoked: ['この電子証明書は失効しています',
                       'カードの電子証明書が失効しています（紛失の届出や廃止など）。お住まいの市区町村の窓口で電子証明書の再発行を受けてください。',
                       'This certificate has been revoked',
                       'Your card\'s certificate has been revoked (for example after a loss report). Have it reissued at your municipal office.'],
        cert_revoked_superseded: ['電子証明書は新しいものに切り替わっています',
                                  'この証明書は更新により置き換えられました。新しい電子証明書（新しいカード、または更新後のカード）でログインしてください。',
                                  'This certificate has been replaced',
                                  'This certificate was replaced by a renewal. Log in with your new certificate (your new card, or the card after renewal).'],
        signature_invalid: ['カードの署名を確認できませんでした',
                            '署名と証明書が一致しません。もう一度お試しください。続く場合はカードヘルパーを再起動してください。',
                            'The card\'s signature could not be verified',
                            'The signature does not match the certificate. Try again; if it keeps failing, restart the card helper.'],
        signature_malformed: ['カードの署名を読み取れませんでした', A.helper[0],
                              'The card\'s signature could not be read', A.helper[1]],
        client_data_missing: ['カードヘルパーの更新が必要です',
                              'お使いのカードヘルパー（カード読み取り用アプリ）は古い方式で署名しました。最新版に更新してから、もう一度ログインしてください。',
                              'The card helper needs to be updated',
                              'Your card helper (the card reader app) signed in an old way. Update it to the latest version, then log in again.'],
        client_data_invalid: ['カードヘルパーの応答を確認できませんでした', A.helper[0],
                              'The card helper\'s answer could not be checked', A.helper[1]],
        origin_mismatch: ['このサイトのための署名ではありません',
                          'カードの署名が別のサイト向けに作られました。このサイトのトップページまたはブックマークから開き直してログインしてください。メールやSMSのリンクから来た場合は、偽サイトの可能性があります。',
                          'The card signed for another website',
                          'The signature was made for a different site. Open this site again from its home page or your bookmark and log in. If a link in an e-mail or SMS brought you here, it may be a fake site.'],
        challenge_unknown: ['ログインをやり直してください', A.restart[0], 'Please start the login again', A.restart[1]],
        challenge_replayed: ['ログインをやり直してください', A.restart[0], 'Please start the login again', A.restart[1]],
        challenge_expired: ['ログインの有効時間が切れました', A.restart[0], 'The login timed out', A.restart[1]],
        challenge_wrong_browser: ['ブラウザーを確認できませんでした',
                                  'Cookie を有効にして、同じブラウザーのこのページからもう一度ログインしてください。',
                                  'This browser could not be recognised',
                                  'Enable cookies and log in again from this page in the same browser.'],
        challenge_scope: ['別のサイトで始めたログインです',
                          'このページを開き直して、このサイトでもう一度ログインしてください。',
                          'This login was started on another site',
                          'Reload this page and log in again on this site.'],
        session_scope: ['ほかのサイトのログイン状態は使えません',
                        'このサイトでもう一度ログインしてください。',
                        'A login from another site cannot be used here',
                        'Please log in again on this site.'],
        logout_cross_site: ['ログアウトできませんでした',
                            'ログアウトは、このサイトのログアウトページから行ってください。',
                            'You could not be logged out',
                            'Log out from this site\'s own logout page.'],
        malformed_json: ['ログインの要求が正しくありません', A.reload[0], 'The login request was not valid', A.reload[1]],
        malformed_request: ['ログインの要求が正しくありません', A.reload[0], 'The login request was not valid', A.reload[1]],
        body_too_large: ['ログインの要求が大きすぎます', A.reload[0], 'The login request is too large', A.reload[1]],
        unsupported_media_type: ['ログインの要求が正しくありません', A.reload[0], 'The login request was not valid', A.reload[1]],
        method_not_allowed: ['ログインの要求が正しくありません', A.reload[0], 'The login request was not valid', A.reload[1]],
        invalid_return_to: ['ログイン後の移動先が正しくありません',
                            'リンクが正しくない可能性があります。サイトのトップページから開き直してください。',
                            'The page to return to is not valid',
                            'The link may be wrong. Open the site again from its home page.'],
        login_required: ['ログインが必要です', 'マイナンバーカードでログインしてください。',
                         'Please log in', 'Log in with your My Number Card.'],
        no_account: ['このカードに対応するアカウントがありません',
                     '初めてご利用の方は、利用登録をしてください。登録済みの方は、登録に使ったカードでログインしてください。',
                     'There is no account for this card',
                     'If you are new, please register first. If you have registered, log in with the card you registered with.'],
        account_unavailable: ['ただいま会員情報を確認できません',
                              'しばらく時間をおいてから、もう一度お試しください。',
                              'Your account cannot be checked right now',
                              'Please try again in a few minutes.'],
        account_removed: ['このアカウントは利用できなくなりました',
                          'アカウントが削除されたか、別のアカウントに移されました。お問い合わせ窓口にご連絡ください。',
                          'This account is no longer available',
                          'The account was removed or moved. Please contact customer support.'],
        account_unknown: ['アカウントが見つかりません',
                          'お問い合わせ窓口にご連絡ください。',
                          'The account was not found',
                          'Please contact customer support.'],
        age_under: ['年齢の条件を満たしていません',
                    'このサービスはご利用いただける年齢が決められています。',
                    'You do not meet the age requirement',
                    'This service has a minimum age.'],
        age_unknown: ['生年月日が登録されていません',
                      '署名用電子証明書で利用登録を行うと、年齢を確認できるようになります。',
                      'No birth date is registered',
                      'Register with the signature certificate of your card so that your age can be checked.'],
        sign_proof_missing: ['署名用電子証明書による確認が必要です',
                             '署名用電子証明書（6〜16桁のパスワード）で署名してください。',
                             'A signature with the signature certificate is required',
                             'Please sign with the signature certificate of your card (6-16 character password).'],
        person_mismatch: ['2つの証明書の持ち主が一致しません',
                          'ログインに使ったカードと同じカードの署名用電子証明書を使ってください。',
                          'The two certificates belong to different people',
                          'Use the signature certificate of the same card you logged in with.'],
        account_api_unauthenticated: ['この操作は許可されていません',
                                      'サイトの内部機能への要求が認証されていません。お問い合わせ窓口にご連絡ください。',
                                      'This operation is not allowed',
                                      'A request to an internal function of the site was not authenticated. Please contact customer support.'],
        account_api_unconfigured: ['ただいまこの機能は利用できません',
                                   'サイトの設定に問題があります。お問い合わせ窓口にご連絡ください。',
                                   'This function is not available right now',
                                   'The site is not configured for it. Please contact customer support.'],
        account_link_conflict: ['このカードは別のアカウントに登録されています',
                                '登録内容を変更する場合は、お問い合わせ窓口にご連絡ください。',
                                'This card is registered to another account',
                                'To change the registration, please contact customer support.'],
        cert_no_facts: ['署名用電子証明書から登録情報を読み取れませんでした',
                        'マイナンバーカードの署名用電子証明書で、もう一度お試しください。続く場合はお問い合わせ窓口にご連絡ください。',
                        'The signing certificate\'s details could not be read',
                        'Try again with the signing certificate of your My Number Card. If this continues, contact customer support.'],
        person_unverified: ['本人確認ができませんでした',
                            'しばらくしてからもう一度お試しください。続く場合はお問い合わせ窓口にご連絡ください。',
                            'Your identity could not be confirmed',
                            'Please try again later. If this continues, contact customer support.'],
        invalid_format: ['表示形式が正しくありません',
                         '管理者向けの状態ページの形式指定（format）が正しくありません。',
                         'Unknown format',
                         'The status page format parameter is not valid.'],
        metrics_unavailable: ['状態情報を表示できません',
                              '管理者向けの状態ページが利用できません。サーバーのログを確認してください。',
                              'Status information is unavailable',
                              'The status page is unavailable. Check the server log.'],
        link_pending: ['証明書の更新がまだ反映されていません',
                       '電子証明書を更新したばかりの場合、反映まで時間がかかります。しばらくしてからもう一度お試しください。',
                       'Your certificate renewal is not known yet',
                       'If you renewed your certificate recently, it takes some time to be recognised. Please try again later.'],
        status_unavailable: ['証明書の状態を確認できません', A.later[0], 'The certificate status cannot be checked', A.later[1]],
        cache_unavailable: ['ただいまログインできません', A.later[0], 'Logging in is unavailable', A.later[1]],
        session_unavailable: ['ただいまログインできません', A.later[0], 'Logging in is unavailable', A.later[1]],
        not_configured: ['サイトの設定に問題があります',
                         'サイトの管理者にお問い合わせください。',
                         'The site is not set up correctly',
                         'Please contact the site administrator.'],
        /* page-local codes (not from the server): the signers and the network */
        helper_unreachable: ['カードヘルパーに接続できません',
                             'カードヘルパー（カード読み取り用アプリ）が起動しているか確認して、もう一度お試しください。',
                             'The card helper cannot be reached',
                             'Check that the card helper (the card reader app) is running, then try again.'],
        helper_timeout: ['カードの操作が時間切れになりました', A.helper[0], 'The card did not answer in time', A.helper[1]],
        helper_card_not_found: ['カードが見つかりません',
                                'カードを読み取り機に正しく置いて、もう一度お試しください。',
                                'No card was found', 'Place the card on the reader properly and try again.'],
        helper_pin_cancelled: ['暗証番号の入力が取り消されました', 'もう一度「ログイン」を押してください。',
                               'The PIN entry was cancelled', 'Press "Log in" again.'],
        helper_pin_blocked: ['暗証番号がロックされています',
                             '暗証番号を続けて間違えたためロックされました。お住まいの市区町村の窓口でロックを解除してください。',
                             'The PIN is locked',
                             'The PIN was entered wrongly too many times. Have it unlocked at your municipal office.'],
        helper_origin_refused: ['カードヘルパーがこのサイトを許可していません',
                                'カードヘルパーの設定を確認してください。', 'The card helper does not allow this site',
                                'Check the card helper\'s settings.'],
        helper_error: ['カードで署名できませんでした', A.helper[0], 'The card could not sign', A.helper[1]],
        helper_reader_not_found: ['カード読み取り機が見つかりません',
                                  '読み取り機がパソコンに接続されているか確認して、もう一度お試しください。',
                                  'No card reader was found', 'Check that the card reader is connected to the PC, then try again.'],
        helper_card_ambiguous: ['複数のカードが置かれています', 'ログインに使うカードを1枚だけ読み取り機に置いてください。',
                                'More than one card was found', 'Leave only the card you log in with on the reader.'],
        helper_card_removed: ['署名中にカードが外れました', 'カードを読み取り機に置いたまま、もう一度お試しください。',
                              'The card was removed while signing', 'Keep the card on the reader and try again.'],
        helper_pin_incorrect: ['暗証番号が違います',
                               '利用者証明用の暗証番号（数字4桁）を確認してください。3回続けて間違えるとロックされます。',
                               'The PIN is incorrect',
                               'Check the 4-digit user-authentication PIN. Three wrong tries in a row lock it.'],
        helper_pin_final_try: ['暗証番号の残り回数が1回です',
                               '安全のためカードヘルパーは入力を求めませんでした。お住まいの市区町村の窓口で暗証番号を再設定してください。',
                               'Only one PIN try is left',
                               'For safety the card helper did not ask for the PIN. Have it reset at your municipal office.'],
        helper_pin_invalid: ['暗証番号は数字4桁です', 'カードには送っていません（残り回数は減っていません）。もう一度お試しください。',
                             'The PIN is 4 digits', 'It was not sent to the card (no try was used). Please try again.'],
        helper_pin_timeout: ['暗証番号の入力が時間切れになりました', 'もう一度「ログイン」を押してください。',
                             'The PIN entry timed out', 'Press "Log in" again.'],
        helper_busy: ['別の署名を処理中です', '他のタブやウィンドウのログインが終わってから、もう一度お試しください。',
                      'Another signature is in progress', 'Finish the login in the other tab or window, then try again.'],
        helper_request_too_large: ['カードヘルパーへの要求が大きすぎます', A.reload[0],
                                   'The request to the card helper is too large', A.reload[1]],
        helper_pinentry_failed: ['暗証番号の入力画面を開けませんでした',
                                 'カードヘルパーの設定（pinentry）を確認してください。',
                                 'The PIN dialog could not be opened', 'Check the card helper\'s pinentry setting.'],
        helper_bad_response: ['カードヘルパーの応答が正しくありません', A.helper[0],
                              'The card helper gave an invalid answer', A.helper[1]],
        software_missing: ['鍵と証明書を指定してください', '試験用の秘密鍵（PKCS#8 PEM）と証明書を選ぶか貼り付けてください。',
                           'Key and certificate are needed', 'Choose or paste a test private key (PKCS#8 PEM) and its certificate.'],
        software_key_format: ['秘密鍵を読み込めませんでした', '暗号化されていない PKCS#8 PEM（BEGIN PRIVATE KEY）の RSA 鍵を指定してください。',
                              'The private key could not be read', 'Use an unencrypted RSA key in PKCS#8 PEM (BEGIN PRIVATE KEY).'],
        software_cert_format: ['証明書を読み込めませんでした', 'PEM または base64 の DER 証明書を指定してください。',
                               'The certificate could not be read', 'Use a PEM certificate or base64 DER.'],
        network_error: ['サーバーに接続できません', 'インターネット接続を確認して、もう一度お試しください。',
                        'The server cannot be reached', 'Check your connection and try again.'],
        bad_response: ['サーバーの応答が正しくありません', A.later[0], 'The server gave an invalid answer', A.later[1]],
        unsafe_redirect: ['移動先が安全でないため移動しませんでした', 'サイトのトップページから開き直してください。',
                          'Not redirected: the destination is not on this site', 'Open the site again from its home page.'],
        unknown: ['ログインできませんでした', A.reload[0], 'The login was refused', A.reload[1]]
    };

    function errorEntry(code) {
        if (Object.prototype.hasOwnProperty.call(ERR, code)) {
            return ERR[code];
        }
        /* every revocation reason the status provider may name */
        if (/^cert_revoked/.test(code)) {
            return ERR.cert_revoked;
        }
        return ERR.unknown;
    }

    var root = document.getElementById('jpki');
    if (!root) {
        return;
    }
    var params = new URLSearchParams(window.location.search);
    var lang = pickLang();
    var lastError = null;
    var lastStatus = null;
    var busy = false;

    function pickLang() {
        var q = params.get('lang');
        if (q === 'ja' || q === 'en') {
            return q;
        }
        try {
            var s = window.localStorage.getItem('jpki-lang');
            if (s === 'ja' || s === 'en') {
                return s;
            }
        } catch (e) { /* storage disabled */ }
        var langs = navigator.languages || [navigator.language || ''];
        return /^ja\b/i.test(langs[0] || '') ? 'ja' : 'en';
    }

    function t(key) {
        return UI[lang][key] || UI.ja[key] || key;
    }

    function applyLang() {
        document.documentElement.lang = lang;
        var nodes = root.querySelectorAll('[data-i18n]');
        for (var i = 0; i < nodes.length; i++) {
            nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
        }
        var toggle = document.getElementById('lang-toggle');
        toggle.textContent = t('toggle');
        toggle.lang = lang === 'ja' ? 'en' : 'ja';
        document.title = root.getAttribute('data-page') === 'logout'
            ? UI.ja.logout_title + ' / ' + UI.en.logout_title
            : UI.ja.title + ' / ' + UI.en.title;
        if (lastStatus) {
            setStatus(lastStatus);
        }
        if (lastError) {
            showError(lastError);
        }
    }

    function setStep(step) {
        var steps = root.querySelectorAll('#steps li');
        var order = ['prepare', 'card', 'check', 'done'];
        var at = order.indexOf(step);
        for (var i = 0; i < steps.length; i++) {
            var idx = order.indexOf(steps[i].getAttribute('data-step'));
            steps[i].className = idx < at ? 'done' : idx === at ? 'current' : '';
        }
    }

    function setStatus(key) {
        lastStatus = key;
        var el = document.getElementById('status');
        el.textContent = key ? t(key) : '';
        root.setAttribute('data-state', key || 'idle');
    }

    function fillError(box, entry, off, which) {
        box.lang = which;
        box.querySelector('.error-title').textContent = entry[off];
        box.querySelector('.error-advice').textContent = entry[off + 1];
    }

    /* Both languages are shown: the chosen one first. */
    function showError(code) {
        lastError = code;
        var entry = errorEntry(code);
        var first = lang === 'ja' ? 0 : 2;
        fillError(document.getElementById('error-primary'), entry, first, lang);
        fillError(document.getElementById('error-secondary'), entry, 2 - first,
                  lang === 'ja' ? 'en' : 'ja');
        document.getElementById('error-code').textContent = code;
        var reg = document.getElementById('error-register');
        var regUrl = root.getAttribute('data-register-url') || '';
        if (reg) {
            reg.hidden = !(code === 'no_account' && sameOriginPath(regUrl));
            if (!reg.hidden) {
                document.getElementById('register-link').setAttribute('href', regUrl);
            }
        }
        var box = document.getElementById('error');
        box.hidden = false;
        root.setAttribute('data-error', code);
    }

    function clearError() {
        lastError = null;
        document.getElementById('error').hidden = true;
        root.removeAttribute('data-error');
    }

    function fail(code) {
        showError(code);
        setStatus('st_failed');
        setStep('');
    }

    /* A path on this origin: one leading '/', no scheme/host tricks. */
    function sameOriginPath(p) {
        if (typeof p !== 'string' || p.length === 0 || p.length > 2048 || p.charAt(0) !== '/' ||
            p.charAt(1) === '/' || p.charAt(1) === '\\' || /[\\\u0000-\u001f\u007f]/.test(p)) {
            return false;
        }
        try {
            return new URL(p, window.location.origin).origin === window.location.origin;
        } catch (e) {
            return false;
        }
    }

    function attr(name, dflt) {
        var v = root.getAttribute(name);
        return v ? v : dflt;
    }

    /* fetch + JSON with a stable error code for every failure. */
    function fetchJson(url, init) {
        return fetch(url, init).then(function (res) {
            return res.json().then(function (j) {
                return {res: res, json: j && typeof j === 'object' ? j : {}};
            }, function () {
                return {res: res, json: {}};
            });
        }, function () {
            throw {code: 'network_error'};
        });
    }

    function serverError(r) {
        var c = r.json.error || r.res.headers.get('X-JPKI-Error');
        return {code: typeof c === 'string' && /^[a-z_]{1,64}$/.test(c) ? c : 'bad_response'};
    }

    /* ---------------------------------------------------------------- login */
    function readFileInto(input, textarea, binaryOk) {
        input.addEventListener('change', function () {
            var f = input.files && input.files[0];
            if (!f || f.size > 65536) {
                return;
            }
            f.arrayBuffer().then(function (buf) {
                var u = new Uint8Array(buf);
                var text = new TextDecoder('utf-8').decode(u);
                textarea.value = binaryOk && text.indexOf('-----BEGIN') < 0
                    ? window.JPKISigners.util.bytesToB64(u) : text;
            });
        });
    }

    function chosenSigner() {
        var sw = document.getElementById('signer-software');
        if (softwareAllowed && sw && sw.checked) {
            return window.JPKISigners.software({
                key: document.getElementById('sw-key').value,
                certificate: document.getElementById('sw-cert').value
            });
        }
        return window.JPKISigners.cardHelper({port: attr('data-helper-port', '25999')});
    }

    function login(ev) {
        ev.preventDefault();
        if (busy) {
            return;
        }
        busy = true;
        var button = document.getElementById('login-button');
        button.disabled = true;
        root.setAttribute('aria-busy', 'true');
        clearError();
        setStep('prepare');
        setStatus('st_prepare');
        var signer = chosenSigner();
        var returnTo = params.get('return_to');
        var challenge;

        fetchJson(attr('data-challenge-url', '/jpki/challenge'), {
            method: 'GET',
            credentials: 'same-origin',
            cache: 'no-store',
            headers: {'Accept': 'application/json'}
        }).then(function (r) {
            if (!r.res.ok) {
                throw serverError(r);
            }
            challenge = r.json.challenge;
            if (typeof challenge !== 'string' || r.json.digest !== 'sha256') {
                throw {code: 'bad_response'};
            }
            var bytes;
            try {
                bytes = window.JPKISigners.util.b64urlToBytes(challenge);
            } catch (e) {
                throw {code: 'bad_response'};
            }
            if (bytes.length !== 32) {
                throw {code: 'bad_response'};
            }
            setStep('card');
            setStatus(signer.kind === 'software' ? 'st_signing' : 'st_card');
            return signer.sign(challenge);
        }).then(function (proof) {
            setStep('check');
            setStatus('st_check');
            var body = {challenge: challenge, client_data: proof.client_data,
                        certificate: proof.certificate, signature: proof.signature};
            if (returnTo !== null) {
                body.return_to = returnTo;
            }
            return fetchJson(attr('data-login-url', '/jpki/login'), {
                method: 'POST',
                credentials: 'same-origin',
                cache: 'no-store',
                headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
                body: JSON.stringify(body)
            });
        }).then(function (r) {
            if (!r.res.ok) {
                throw serverError(r);
            }
            if (r.json.status !== 'ok') {
                throw {code: 'bad_response'};
            }
            setStep('done');
            var to = r.json.redirect;
            if (!sameOriginPath(to)) {
                setStatus('st_done_stay');
                showError('unsafe_redirect');
                return;
            }
            setStatus('st_done');
            window.location.assign(new URL(to, window.location.origin).href);
        }).then(null, function (e) {
            fail(e && typeof e.code === 'string' ? e.code : 'unknown');
        }).then(function () {
            busy = false;
            button.disabled = false;
            root.removeAttribute('aria-busy');
        });
    }

    /* --------------------------------------------------------------- logout */
    function logout(ev) {
        ev.preventDefault();
        if (busy) {
            return;
        }
        busy = true;
        var button = document.getElementById('logout-button');
        button.disabled = true;
        clearError();
        setStatus('st_logging_out');
        fetchJson(attr('data-logout-url', '/jpki/logout'), {
            method: 'POST',
            credentials: 'same-origin',
            cache: 'no-store',
            headers: {'Accept': 'application/json'}
        }).then(function (r) {
            if (!r.res.ok || r.json.status !== 'ok') {
                throw serverError(r);
            }
            setStatus('st_logged_out');
            root.setAttribute('data-state', 'logged-out');
        }).then(null, function (e) {
            showError(e && typeof e.code === 'string' ? e.code : 'unknown');
            setStatus('');
        }).then(function () {
            busy = false;
            button.disabled = false;
        });
    }

    /* ---------------------------------------------------------------- setup */
    /* The software signer exists for tests and the demo only. */
    var softwareAllowed = root.getAttribute('data-page') === 'login' &&
                          params.get('signer') === 'software';

    document.getElementById('lang-toggle').addEventListener('click', function () {
        lang = lang === 'ja' ? 'en' : 'ja';
        try {
            window.localStorage.setItem('jpki-lang', lang);
        } catch (e) { /* storage disabled */ }
        applyLang();
    });

    if (root.getAttribute('data-page') === 'logout') {
        document.getElementById('logout-form').addEventListener('submit', logout);
    } else {
        var choice = document.getElementById('signer-choice');
        var sw = document.getElementById('software-signer');
        var hint = document.getElementById('card-hint');
        var radios = document.getElementsByName('signer');
        var sync = function () {
            var soft = softwareAllowed && document.getElementById('signer-software').checked;
            sw.hidden = !soft;
            hint.hidden = soft;
        };
        if (softwareAllowed) {
            choice.hidden = false;
            document.getElementById('signer-software').checked = true;
            readFileInto(document.getElementById('sw-key-file'), document.getElementById('sw-key'), false);
            readFileInto(document.getElementById('sw-cert-file'), document.getElementById('sw-cert'), true);
        } else {
            document.getElementById('signer-card').checked = true;
        }
        for (var i = 0; i < radios.length; i++) {
            radios[i].addEventListener('change', sync);
        }
        sync();
        document.getElementById('login-form').addEventListener('submit', login);
    }
    applyLang();
    root.setAttribute('data-ready', 'true');
    if (!root.getAttribute('data-state')) {
        root.setAttribute('data-state', 'idle');
    }
})();
