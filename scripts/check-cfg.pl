#!/usr/bin/env perl
# The configuration guard (docs/design.md "Configuration"), run by make
# check: every field of every configuration record in mod_jpki/cfg/*.h is
# merged by the record's merge function, and every int or enum field is
# given its "unset" sentinel by the create function (calloc's 0 is a real
# value for them). Fields filled at startup rather than by a directive are
# exempt when their declaration (or the comment line right above a group of
# them) says so: "computed", "built", "read by check_config", "opened in",
# "set in check_config". Usage: check-cfg.pl SRCDIR
use strict;
use warnings;

my $srcdir = shift // '.';
my $cfg = "$srcdir/mod_jpki/cfg";
my (%fields, @fail);

# records: typedef struct NAME { ... } NAME;
for my $h (glob "$cfg/*.h") {
    local $/;
    open my $fh, '<', $h or die "$h: $!";
    my $s = <$fh>;
    while ($s =~ /typedef struct (\w+) \{(.*?)\n\} \1;/sg) {
        my ($name, $body) = ($1, $2);
        my $exempt_group = 0;
        for my $line (split /\n/, $body) {
            if ($line =~ m{^\s*/\*(.*)}) {    # a comment line: starts a group
                $exempt_group = ($1 =~ /computed|built|read by check_config|opened in|set in check_config/) ? 1 : 0;
                next;
            }
            next if $line =~ /^\s*$/;
            my ($decl, $comment) = $line =~ m{^\s*([^/]*?);\s*(?:/\*(.*))?$} or next;
            my ($field) = $decl =~ /(\w+)(?:\[[^\]]*\])?\s*$/ or next;
            my $exempt = $exempt_group
                || (($comment // '') =~ /computed|built|read by check_config|opened in|set in check_config/);
            next if $field eq 's' && $decl =~ /server_rec/;    # the record's own server
            # an int whose 0 is documented as its unset value needs no sentinel
            my $int = $decl =~ /^\s*(int|long|unsigned|jpki_\w+_e)\b/ && ($comment // '') !~ /\b0 = unset\b/ ? 1 : 0;
            push @{ $fields{$name} }, { name => $field, int => $int, exempt => $exempt };
        }
    }
}

# create and merge functions of each record, from cfg/*.c
my %body;
for my $c (glob "$cfg/*.c") {
    local $/;
    open my $fh, '<', $c or die "$c: $!";
    my $s = <$fh>;
    while ($s =~ /^(?:static )?[\w *]+?\b(\w+_(?:create|merge))\((.*?)\)\n\{(.*?)\n\}/msg) {
        $body{$1} = $3;
    }
}
my %fn = (
    jpki_srv_cfg_t => 'jpki_config_srv',
    jpki_dir_cfg_t => 'jpki_config_dir',
    jpki_status_cfg_t => 'jpki_status_cfg',
);
my $n = 0;
for my $rec (sort keys %fields) {
    (my $base = $fn{$rec} // $rec) =~ s/_t$//;
    my ($create, $merge) = ($body{"${base}_create"}, $body{"${base}_merge"});
    if (!defined $merge) {
        push @fail, "$rec: no ${base}_merge in mod_jpki/cfg";
        next;
    }
    for my $f (@{ $fields{$rec} }) {
        next if $f->{exempt};
        $n++;
        my $re = qr/\b\Q$f->{name}\E\b/;
        push @fail, "$rec.$f->{name} is not merged by ${base}_merge" unless $merge =~ $re;
        push @fail, "$rec.$f->{name} (int) gets no unset sentinel in ${base}_create"
            if $f->{int} && !(defined $create && $create =~ $re);
    }
}
printf "cfg: %d records, %d directive fields checked\n", scalar(keys %fields), $n;
if (@fail) {
    print STDERR "cfg: FAIL $_\n" for @fail;
    exit 1;
}
print "cfg: ok\n";
