#!/bin/sh
# deploy/example-conf.sh PROGRAM NAME OUT - the example configuration file
# /etc/ulma/NAME.conf: PROGRAM's --print-config with the defaults and
# nothing else (no file, an empty environment), every setting commented
# out so that the file changes nothing until a line is uncommented.
set -eu
prog=$1 name=$2 out=$3
{
    echo "# /etc/ulma/$name.conf - the configuration of $(basename "$prog")."
    echo "# One 'name = value' per line, with the names of its long options; the"
    echo "# environment (ULMA_NAME) and the command line override what is here."
    echo "# Every setting below is the default, commented out."
    env -i "$prog" --config /dev/null --print-config | sed -e '1d' -e 's/^\([a-z]\)/#\1/'
} >"$out.tmp"
mv "$out.tmp" "$out"
