#!/usr/bin/perl
# The customer guides (docs/customers/en.md, ja.md) explain every error code
# the login page can show, in the page's own words: each code of the message
# table (htdocs/jpki-messages.js, generated from core/jpki_messages.c) has a row in both guides whose title is the
# page's title in that language, and every revocation code of docs/errors.md
# is explained. Codes shown only on internal or test pages are listed here.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use File::Basename qw(dirname);

my $top = dirname(dirname(dirname(__FILE__)));
my %internal = map { $_ => 1 } qw(software_missing software_key_format software_cert_format
    invalid_format metrics_unavailable account_api_unauthenticated account_api_unconfigured);

# The page's table, evaluated by node exactly as the browser builds it.
my $js = <<'JS';
const src = require('fs').readFileSync(process.argv[1], 'utf8');
const window = {};
new Function('window', src)(window);
const t = window.JPKIMessages;
process.stdout.write(JSON.stringify(t));
JS
open my $p, '-|', 'node', '-e', $js, "$top/htdocs/jpki-messages.js" or die "node: $!";
my $out = do { local $/; <$p> };
close $p or die "node failed";
my $err = JSON::PP->new->utf8->decode($out);
cmp_ok scalar(keys %$err), '>', 50, 'the login page message table was read';

sub slurp {
    open my $fh, '<:encoding(UTF-8)', $_[0] or die "$_[0]: $!";
    local $/;
    return scalar <$fh>;
}
my %doc = (ja => slurp("$top/docs/customers/ja.md"), en => slurp("$top/docs/customers/en.md"));

for my $code (sort keys %$err) {
    next if $internal{$code};
    my ($ja_title, undef, $en_title) = @{ $err->{$code} };
    for ([ja => $ja_title], [en => $en_title]) {
        my ($lang, $title) = @$_;
        like $doc{$lang}, qr/^\| `\Q$code\E` \| \Q$title\E \|/m,
            "$lang: `$code` has a row with the page's title";
    }
}

# every revocation code of docs/errors.md, with its own explanation
my $errors = slurp("$top/docs/errors.md");
my @revoked = sort { $a cmp $b } keys %{{ map { $_ => 1 } $errors =~ /`(cert_revoked(?:_[a-z_]+)?)`/g }};
cmp_ok scalar(@revoked), '>=', 6, 'revocation codes found in docs/errors.md';
for my $code (@revoked) {
    for my $lang (qw(ja en)) {
        my @rows = $doc{$lang} =~ /^\| `\Q$code\E` \|/mg;
        ok @rows >= 1, "$lang: revocation code `$code` explained";
    }
}
done_testing;
