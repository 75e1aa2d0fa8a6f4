#!/usr/bin/perl
# A CGI "local redirect" for t/login/bypass.t: Status 200 with a Location that is
# a path makes httpd perform an internal redirect to it.
print "Status: 200 OK\r\nLocation: /prot/ssl-env.cgi\r\n\r\n";
