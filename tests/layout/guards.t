#!/usr/bin/env perl
# The architecture guards must fail on what they guard against:
# scripts/check-layout.pl on a link cycle, a link edge to a higher floor, a
# step calling another step, an #include cycle; scripts/check-cfg.pl on a
# field that is not merged and an int field without its unset sentinel.
# Synthetic trees in a temp dir (real objects from the C compiler), plus
# the real tree, which must pass. Run by make check.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use File::Copy qw(copy);
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $src = abs_path(dirname(__FILE__) . '/../..');
my $layout = "$src/scripts/check-layout.pl";
my $cfgck = "$src/scripts/check-cfg.pl";
my $cc = $ENV{CC} || 'cc';

sub write_file {
    my ($path, $text) = @_;
    make_path(dirname($path));
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

# A tree of C files under mod_jpki/, compiled like libtool does
# (dir/.libs/<lib>-name.o); returns the guard's exit code and output.
sub layout_run {
    my (%files) = @_;
    my $d = tempdir(CLEANUP => 1);
    my @objs;
    write_file("$d/mod_jpki/$_", $files{$_}) for keys %files;
    for my $f (sort keys %files) {
        next unless $f =~ /\.c$/;
        (my $o = "$d/mod_jpki/$f") =~ s{([^/]+)\.c$}{.libs/la-$1.o};
        make_path(dirname($o));
        system($cc, '-c', '-I', "$d/mod_jpki", '-o', $o, "$d/mod_jpki/$f") == 0
            or die "cc $f failed";
        push @objs, $o;
    }
    my $out = `perl $layout $d @objs 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out);

($rc, $out) = layout_run(
    'infra/jpki_a.c' => "int jpki_b(void);\nint jpki_a(void) { return jpki_b(); }\n",
    'infra/jpki_b.c' => "int jpki_a(void);\nint jpki_b(void) { return 1 + jpki_a(); }\n");
isnt($rc, 0, 'a link cycle fails the layout guard');
like($out, qr/link cycle through 2 files: infra\/jpki_a\.c infra\/jpki_b\.c/, '... and names it');

($rc, $out) = layout_run(
    'core/jpki_a.c' => "int jpki_b(void);\nint jpki_a(void) { return jpki_b(); }\n",
    'infra/jpki_b.c' => "int jpki_b(void) { return 1; }\n");
isnt($rc, 0, 'core calling infra fails');
like($out, qr/core\/jpki_a\.c \(floor 0\) uses infra\/jpki_b\.c \(floor 2\)/, '... floor named');

($rc, $out) = layout_run(
    'steps/status/jpki_status.c' => "int jpki_account_x(void);\nint jpki_s(void) { return jpki_account_x(); }\n",
    'steps/account/jpki_account.c' => "int jpki_account_x(void) { return 1; }\n");
isnt($rc, 0, 'a step calling another step fails');
like($out, qr/step steps\/status\/jpki_status\.c uses another step/, '... named');

($rc, $out) = layout_run(
    'login/jpki_p.c' => "int jpki_account_x(void);\nint jpki_p(void) { return jpki_account_x(); }\n",
    'steps/account/jpki_account.c' => "int jpki_account_x(void) { return 1; }\n",
    'web/jpki_w.c' => "int jpki_p(void);\nint jpki_w(void) { return jpki_p(); }\n");
is($rc, 0, 'downward edges (web -> login -> steps) pass') or diag $out;

($rc, $out) = layout_run(
    'infra/jpki_a.h' => "#ifndef A_H\n#define A_H\n#include \"infra/jpki_b.h\"\n#endif\n",
    'infra/jpki_b.h' => "#ifndef B_H\n#define B_H\n#include \"infra/jpki_a.h\"\n#endif\n",
    'infra/jpki_a.c' => "#include \"infra/jpki_a.h\"\nint jpki_a(void) { return 1; }\n");
isnt($rc, 0, 'an include cycle fails');
like($out, qr/include cycle/, '... named');

($rc, $out) = layout_run(
    'core/jpki_long.c' => "int jpki_long(int x)\n{\n" . ("    x += 1;\n" x 81) . "    return x;\n}\n");
isnt($rc, 0, 'a function over 80 lines fails');
like($out, qr/jpki_long has 82 lines \(limit 80\)/, '... named with its length');

($rc, $out) = layout_run('core/jpki_big.c' => join('', map { "int jpki_v$_ = $_;\n" } 1 .. 600));
isnt($rc, 0, 'a .c file of 600 lines fails');
like($out, qr/core\/jpki_big\.c has 600 lines/, '... named');

# the configuration guard on a copy of the real cfg/ with one line removed
sub cfg_run {
    my ($file, $drop) = @_;
    my $d = tempdir(CLEANUP => 1);
    make_path("$d/mod_jpki/cfg");
    for my $f (glob "$src/mod_jpki/cfg/*.[ch]") {
        copy($f, "$d/mod_jpki/cfg/") or die;
    }
    if ($file) {
        my $p = "$d/mod_jpki/cfg/$file";
        open my $fh, '<', $p or die;
        my @l = grep { index($_, $drop) < 0 } <$fh>;
        close $fh;
        write_file($p, join '', @l);
    }
    my $out = `perl $cfgck $d 2>&1`;
    return ($? >> 8, $out);
}

($rc, $out) = cfg_run();
is($rc, 0, 'the real cfg/ passes the configuration guard') or diag $out;
($rc, $out) = cfg_run('jpki_cfg.c', 'MERGE_INT(session_idle);');
isnt($rc, 0, 'a field left out of the merge fails');
like($out, qr/jpki_srv_cfg_t\.session_idle is not merged/, '... named');
($rc, $out) = cfg_run('jpki_cfg.c', 'c->session_idle = JPKI_UNSET;');
isnt($rc, 0, 'an int field without its unset sentinel fails');
like($out, qr/jpki_srv_cfg_t\.session_idle \(int\) gets no unset sentinel/, '... named');
($rc, $out) = cfg_run('jpki_cfg_status.c', 'SMERGE_INT(breaker_secs);');
like($out, qr/jpki_status_cfg_t\.breaker_secs is not merged/, 'an area record is checked too');

done_testing();
