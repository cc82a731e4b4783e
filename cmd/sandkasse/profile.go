package main

import (
	"context"
	"fmt"

	"github.com/sandkasse/sandkasse/validator/profile"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

const profileSynopsis = "show [--load PATH]... [--constrained] URL\n\n" +
	"Prints the profile's snapshot (generated from its differential when the package ships\n" +
	"none) as a tree: element, cardinality, types, must-support, fixed/pattern, binding,\n" +
	"slicing. --constrained keeps only what the profile changes."

func runProfile(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("profile", profileSynopsis, io.err)
	var loads multi
	fs.Var(&loads, "load", "load conformance resources (JSON file, directory or npm package .tgz); repeatable")
	constrained := fs.Bool("constrained", false, "print only the elements the profile constrains")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	if len(rest) != 2 || rest[0] != "show" {
		fmt.Fprintln(io.err, "sandkasse profile: expected 'show URL'")
		fs.Usage()
		return exitUsage
	}
	reg := r4.NewRegistry()
	for _, p := range loads {
		if err := reg.Load(p); err != nil {
			fmt.Fprintln(io.err, "sandkasse profile:", err)
			return exitUsage
		}
	}
	sd, err := profile.New(reg, nil, profile.Options{}).Profile(rest[1])
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse profile:", err)
		return exitUsage
	}
	if err := profile.Render(io.out, sd, profile.RenderOptions{Constrained: *constrained}); err != nil {
		fmt.Fprintln(io.err, "sandkasse profile:", err)
		return exitUsage
	}
	return exitOK
}
