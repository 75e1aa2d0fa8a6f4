#!/bin/sh
# Demo backend: shows what mod_jpki hands to an application.
echo "Content-Type: text/plain; charset=utf-8"
echo
echo "Logged in with the My Number Card (test PKI)."
echo "REMOTE_USER=$REMOTE_USER"
env | grep '^JPKI_' | sort
