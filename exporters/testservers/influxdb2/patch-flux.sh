#!/usr/bin/env bash
# Patch a writable copy of the Flux Go module (github.com/influxdata/flux,
# the version InfluxDB 2.7.12 requires) so that influxd starts when linked
# with fluxstub.c instead of libflux. Run by scripts/testservers.sh:
#
#   patch-flux.sh FLUX_MODULE_COPY
#
# With the stub, the standard library's type environment and its semantic
# packages are empty. Two lines of flux/runtime change:
#
#   - runtime/lookup.go: looking up a builtin's type finds nothing; the
#     stdlib packages do that in their init functions and panic on an
#     error. It returns a placeholder function type instead (the builtins
#     are registered, never type-checked: nothing can parse Flux).
#   - runtime/runtime.go: Finalize (influxd calls it at start-up) fails
#     with "missing semantic package" for every stdlib package; it skips
#     them instead.
#
# Each substitution must match exactly once, or the script fails: a new
# Flux version needs a look, not a silent half-patched build.
set -euo pipefail

dir=${1:?usage: patch-flux.sh FLUX_MODULE_COPY}

subst() { # file, old text, new text (fixed strings)
    local file=$dir/$1 old=$2 new=$3 n
    n=$(grep -cF -- "$old" "$file" || true)
    if [ "$n" != 1 ]; then
        echo "patch-flux.sh: $1: expected the line once, found it $n times: $old" >&2
        exit 1
    fi
    OLD=$old NEW=$new perl -0pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/' "$file"
    grep -qF -- "$new" "$file"
}

subst runtime/lookup.go \
    'return semantic.MonoType{}, errors.Newf(codes.Internal, "Expected to find Prop for %v %v, but Prop was missing.", pkg, name)' \
    'return semantic.NewFunctionType(semantic.BasicString, nil), nil // satellite: built without libflux, no types'

subst runtime/runtime.go \
    'return errors.Newf(codes.Internal, "missing semantic package %s", path)' \
    'continue // satellite: built without libflux, no semantic packages'
