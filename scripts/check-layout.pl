#!/usr/bin/env perl
# The architecture guard (docs/design.md "Floors"), run by `make check`:
#  - link level: object A depends on object B when A uses a symbol B
#    defines (nm); the module record jpki_module is excepted;
#  - include level: A depends on B when A #includes "B";
# and fails when either graph has a cycle or an edge points to a higher
# floor, when a step uses another step, or a web file another web file.
# Also prints the sizes the issue asks to watch: largest .c, longest
# function. Usage: check-layout.pl SRCDIR OBJECT...
use strict;
use warnings;
use File::Basename qw(dirname basename);
use File::Find;

# The longest function body allowed (lines between its braces).
my $FN_MAX = 80;

my ($srcdir, @objs) = @ARGV;
die "usage: $0 SRCDIR OBJECT...\n" unless $srcdir && @objs;
my $root = "$srcdir/mod_jpki";
my @fail;

# floor of a path relative to mod_jpki/
sub floor_of {
    my ($p) = @_;
    return 6 if $p eq 'mod_jpki.c';
    return 6 if $p eq 'jpki.h';    # the module record's header: everyone may include it
    return 0 if $p =~ m{^core/};
    return 1 if $p =~ m{^cfg/};
    return 2 if $p =~ m{^infra/};
    return 3 if $p =~ m{^steps/};
    return 4 if $p =~ m{^login/};
    return 5 if $p =~ m{^web/};
    return undef;
}
# the unit a step belongs to (steps/status/x.c and steps/status.h are one step)
sub step_of {
    my ($p) = @_;
    my $s;
    if    ($p =~ m{^steps/([^/]+)/})       { $s = $1 }
    elsif ($p =~ m{^steps/jpki_([a-z]+)}) { $s = $1 }
    else                                  { return undef }
    return undef if $s eq 'step';        # steps/jpki_step.h: shared types, every step may use it
    return undef if $s eq 'identity';    # the identity record every step reads
    return $s;
}

sub rules {
    my ($kind, $a, $b) = @_;
    return if $a eq $b;
    return if $kind eq 'include' && $b eq 'jpki.h';
    my ($fa, $fb) = (floor_of($a), floor_of($b));
    push @fail, "$kind: $a is in no floor folder" unless defined $fa;
    push @fail, "$kind: $b is in no floor folder" unless defined $fb;
    return unless defined $fa && defined $fb;
    push @fail, "$kind: $a (floor $fa) uses $b (floor $fb): dependencies point down only"
        if $fb > $fa;
    my ($sa, $sb) = (step_of($a), step_of($b));
    push @fail, "$kind: step $a uses another step $b (only login/ combines steps)"
        if defined $sa && defined $sb && $sa ne $sb;
    push @fail, "$kind: web file $a uses web file $b (web files are leaves)"
        if $fa == 5 && $fb == 5 && $kind eq 'link';
    if ($kind eq 'include' && $fa == 5 && $fb == 5 && $b ne 'web/jpki_web.h') {
        (my $ha = $a) =~ s/\.[ch]$//;
        (my $hb = $b) =~ s/\.[ch]$//;
        push @fail, "include: web file $a includes web header $b (web files are leaves)"
            unless $ha eq $hb;
    }
}

# ---- link graph ----------------------------------------------------------
my (%defs, %uses);
for my $o (@objs) {
    (my $src = $o) =~ s{(^|/)\.libs/}{$1};
    $src =~ s{^(.*/)?[A-Za-z0-9_]+?-([^/]+)\.o$}{($1 // '') . "$2.c"}e;
    $src =~ s{^\Q$srcdir\E/}{};
    $src =~ s{^\./}{};
    $src =~ s{^mod_jpki/}{};
    for (`nm -P "$o"`) {
        my ($sym, $type) = split;
        next if $sym eq 'jpki_module';
        if ($type eq 'U') { $uses{$src}{$sym} = 1 }
        elsif ($type =~ /^[TDBRVW]$/) { $defs{$sym} = $src }
    }
}
my %link;
for my $a (keys %uses) {
    for my $sym (keys %{ $uses{$a} }) {
        my $b = $defs{$sym} or next;
        next if $a eq $b;
        $link{$a}{$b} = $sym;
    }
}

# ---- include graph -------------------------------------------------------
my %inc;
my @files;
find(sub { push @files, $File::Find::name if /\.[ch]$/ }, $root);
for my $f (@files) {
    (my $rel = $f) =~ s{^\Q$root\E/}{};
    open my $fh, '<', $f or die "$f: $!";
    while (<$fh>) {
        next unless /^\s*#\s*include\s+"([^"]+)"/;
        my $h = $1;
        my $d = dirname($rel);
        my $p = $d eq '.' ? $h : "$d/$h";
        1 while $p =~ s{[^/]+/\.\./}{};
        $p = $h unless -e "$root/$p";
        next unless -e "$root/$p";
        $inc{$rel}{$p} = 1;
    }
    close $fh;
}

# ---- cycles (Tarjan) and rules --------------------------------------------
sub sccs {
    my ($g) = @_;
    my ($i, %idx, %low, %on, @st, @out) = (0);
    my $visit;
    $visit = sub {
        my ($v) = @_;
        $idx{$v} = $low{$v} = $i++;
        push @st, $v;
        $on{$v} = 1;
        for my $w (sort keys %{ $g->{$v} || {} }) {
            if (!exists $idx{$w}) { $visit->($w); $low{$v} = $low{$w} if $low{$w} < $low{$v} }
            elsif ($on{$w}) { $low{$v} = $idx{$w} if $idx{$w} < $low{$v} }
        }
        if ($low{$v} == $idx{$v}) {
            my @c;
            while (1) { my $w = pop @st; $on{$w} = 0; push @c, $w; last if $w eq $v }
            push @out, [ sort @c ] if @c > 1;
        }
    };
    my %all = map { $_ => 1 } keys %$g, map { keys %$_ } values %$g;
    $visit->($_) for grep { !exists $idx{$_} } sort keys %all;
    return @out;
}

my $cycles = 0;
for my $pair ([ 'link', \%link ], [ 'include', \%inc ]) {
    my ($kind, $g) = @$pair;
    for my $c (sccs($g)) {
        $cycles++;
        push @fail, "$kind cycle through " . scalar(@$c) . " files: @$c";
    }
    for my $a (sort keys %$g) { rules($kind, $a, $_) for sort keys %{ $g->{$a} } }
}

# ---- sizes -----------------------------------------------------------------
my ($big, $bign, $fn, $fnn) = ('', 0, '', 0);
for my $f (grep { /\.c$/ } @files) {
    (my $rel = $f) =~ s{^\Q$root\E/}{};
    open my $fh, '<', $f or die;
    my @l = <$fh>;
    close $fh;
    ($big, $bign) = ($rel, scalar @l) if @l > $bign;
    push @fail, "size: $rel has " . scalar(@l) . " lines (limit 599)" if @l >= 600;
    my ($start, $name);
    for my $n (0 .. $#l) {
        if ($l[$n] =~ /^\{/) {
            $start = $n;
            for (my $k = $n - 1; $k >= 0 && $k >= $n - 6; $k--) {
                if ($l[$k] =~ /([A-Za-z_]\w*)\s*\(/) { $name = $1; last }
            }
        }
        elsif ($l[$n] =~ /^\}/ && defined $start) {
            my $len = $n - $start - 1;
            ($fn, $fnn) = ("$rel:" . ($name // '?'), $len) if $len > $fnn;
            push @fail, "size: $rel: " . ($name // '?') . " has $len lines (limit $FN_MAX)"
                if $len > $FN_MAX;
            undef $start;
        }
    }
}
my $nlink = 0;
$nlink += keys %{ $link{$_} } for keys %link;
printf "layout: %d objects, %d link edges, %d include files, %d cycles; largest %s (%d lines); longest function %s (%d lines)\n",
    scalar(@objs), $nlink, scalar(keys %inc), $cycles, $big, $bign, $fn, $fnn;
if (@fail) {
    my %seen;
    print STDERR "layout: FAIL $_\n" for grep { !$seen{$_}++ } @fail;
    exit 1;
}
print "layout: ok\n";
