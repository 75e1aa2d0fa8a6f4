#!/usr/bin/perl
# A CGI "local redirect" (a Location that is a path): httpd performs it as
# an internal redirect. Target: /app/ or /pubapp/ (the reverse-proxied echo
# backend), chosen by the query string.
my $to = ($ENV{QUERY_STRING} // '') eq 'app' ? '/app/' : '/pubapp/';
print "Location: $to\r\n\r\n";
