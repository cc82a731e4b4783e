package rules

import (
	"context"
	"os"
	"testing"

	"github.com/sandkasse/sandkasse/validator/ruleset"
)

// The embedded copy is the directory: same files, same digest, all tests
// passing, every profile resolving against the shared packages.
func TestShippedRuleSets(t *testing.T) {
	ctx := context.Background()
	for _, id := range IDs {
		t.Run(id, func(t *testing.T) {
			rs, err := Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			onDisk, err := ruleset.Load(ctx, os.DirFS(id), id)
			if err != nil {
				t.Fatal(err)
			}
			if rs.Digest != onDisk.Digest {
				t.Errorf("embedded digest %s, on disk %s", rs.Digest, onDisk.Digest)
			}
			res, err := rs.Test(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) < 2*len(rs.Rules) {
				t.Errorf("%d tests for %d rules: each rule needs a positive and a negative test", len(res), len(rs.Rules))
			}
			for _, r := range res {
				if !r.Pass {
					t.Error(r)
				}
			}
			shared := "../../shared/profiles"
			if _, err := os.Stat(shared); err != nil {
				t.Skip("no ../shared/profiles")
			}
			if _, err := rs.Resolve([]string{shared}); err != nil {
				t.Error(err)
			}
		})
	}
}
