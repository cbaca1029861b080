package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// errArguments is returned by parseArgs for arguments beyond what a command
// takes; the message has been printed.
var errArguments = errors.New("too many arguments")

// parseArgs parses args with fs wherever the flags are, before, between or
// after the arguments, and returns the arguments. Go's flag package stops at the
// first argument that is not a flag, so that `authz check EVENT.json --bundle
// candidate` read no flag after the file and decided with the wrong policy. As
// with the flag package, "--" ends the flags, and a flag's value may be the
// next argument (a bool flag takes none: --json=false).
//
// More than maxArgs arguments is an error, printed to fs's output like a flag
// error.
func parseArgs(fs *flag.FlagSet, args []string, maxArgs int) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case len(arg) < 2 || arg[0] != '-':
			positional = append(positional, arg)
		default:
			flags = append(flags, arg)
			if takesNextArg(fs, arg) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	if len(positional) > maxArgs {
		extra := positional[maxArgs:]
		what := "takes no argument"
		if maxArgs > 0 {
			what = fmt.Sprintf("takes at most %d argument", maxArgs)
		}
		fmt.Fprintf(fs.Output(), "%s %s; %q is one too many (flags may come before or after arguments; -- ends the flags)\n",
			fs.Name(), what, extra[0])
		return nil, errArguments
	}
	return positional, nil
}

// takesNextArg reports whether the flag arg (-name or --name) reads its value
// from the next argument: a known flag that is not boolean, given without =.
// An unknown flag is left to fs.Parse, which reports it.
func takesNextArg(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}
