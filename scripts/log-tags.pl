#!/usr/bin/env perl
# Every log tag and its text, sorted: `scripts/log-tags.pl mod_jpki`.
# Compared before and after a refactoring to show no message changed.
use strict;
use warnings;
use File::Find;
my @files;
find(sub { push @files, $File::Find::name if /\.c$/ }, @ARGV ? @ARGV : 'mod_jpki');
my @out;
for my $f (@files) {
    local $/;
    open my $fh, '<', $f or die "$f: $!";
    my $s = <$fh>;
    while ($s =~ /JPKI_LOGNO\(\s*(\d+)\s*\)\s*((?:"(?:[^"\\]|\\.)*"\s*)+)/g) {
        my ($n, $lit) = ($1, $2);
        my $text = join '', $lit =~ /"((?:[^"\\]|\\.)*)"/g;
        push @out, "$n $text";
    }
}
print "$_\n" for sort @out;
