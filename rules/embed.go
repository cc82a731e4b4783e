// Package rules carries the shipped rule sets, so the binary has its
// defaults without files beside it. Each rule set is a directory described in
// validator/ruleset; the recorded-exchange and context input shapes the
// policies read are documented in validator/policy.
package rules

import (
	"context"
	"embed"
	"io/fs"

	"github.com/sandkasse/sandkasse/validator/ruleset"
)

//go:embed all:dho-vkp all:epr-smart-app
var files embed.FS

// IDs are the shipped rule sets, in the order they are listed.
var IDs = []string{"dho-vkp", "epr-smart-app"}

// FS returns the files of one shipped rule set, rooted at its directory.
func FS(id string) (fs.FS, error) { return fs.Sub(files, id) }

// Load loads and checks one shipped rule set.
func Load(ctx context.Context, id string) (*ruleset.RuleSet, error) {
	fsys, err := FS(id)
	if err != nil {
		return nil, err
	}
	return ruleset.Load(ctx, fsys, "rules/"+id)
}
