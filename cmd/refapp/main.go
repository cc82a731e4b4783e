// Command refapp is the reference vendor app for each shipped verification
// suite, played against a sandbox tenant: a good app that does what the
// rule set asks, and bad variants that each break exactly what one suite
// test checks (and otherwise behave like the good app).
//
//	refapp dho   --server URL --tenant T --token DEV --org ORGNR [--variant NAME]
//	refapp smart --server URL --tenant T --token DEV [--variant NAME]
//	refapp variants
//
// dho plays a digital home follow-up platform (suite dho-journal): it
// registers its HelseID client in the tenant's mock VKP, gets a token with
// private_key_jwt, searches the EPJ through VKP with ServiceCodes and
// journals a document Bundle per alert type. smart plays a SMART on FHIR app
// (suite smart-app): authorisation code with PKCE and the patient picker,
// then reads and writes within its scopes. The developer token is used only
// for the vendor's set-up (client registration), never by the app itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"time"
)

// Variant is a bad app: it breaks what one suite test checks.
type Variant struct {
	Name  string
	Suite string
	Test  string // the suite test that must fail
	What  string
}

// Variants lists every bad variant.
var Variants = []Variant{
	{"no-service-codes", "dho-journal", "addressing", "one search without the ServiceCodes header"},
	{"no-token", "dho-journal", "authorisation", "one search without the HelseID token"},
	{"read-beyond-purpose", "dho-journal", "reads-within-purpose", "asks for and searches Encounter, which home follow-up does not read"},
	{"two-alerts", "dho-journal", "document-shape", "journals one note that closes two alerts"},
	{"wrong-unit", "dho-journal", "vital-signs", "journals blood glucose in mg/dL instead of mmol/L"},
	{"mixed-patients", "dho-journal", "subject", "journals a note whose measurement is about another patient"},
	{"invalid-journal", "dho-journal", "journal-valid", "journals an Observation with a status that is not a code"},
	{"no-pkce", "smart-app", "authorize-request", "one authorisation request without PKCE"},
	{"bad-scope", "smart-app", "scope-request", "one authorisation request with a scope that is not a SMART scope"},
	{"short-verifier", "smart-app", "code-exchange", "one code exchange with a code_verifier that is too short"},
	{"token-in-url", "smart-app", "tokens-in-headers", "one read with the access token in the URL instead of a header"},
	{"outside-scopes", "smart-app", "within-scopes", "one search of Condition, which no granted scope covers"},
	{"wrong-endpoint", "smart-app", "write-endpoint", "one update whose body id is not the id in the URL"},
	{"invalid-write", "smart-app", "written-resources-valid", "one create of an Observation with a status that is not a code"},
}

// Config is where and as what the app runs.
type Config struct {
	Server, Tenant, DevToken string
	// Org is the municipality the tenant plays (the DHO app journals to it).
	Org     string
	Variant string
	HTTP    HTTPDoer
	Log     io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: refapp dho|smart --server URL --tenant T --token DEV [--variant NAME] | refapp variants")
		return 2
	}
	if args[0] == "variants" {
		vs := append([]Variant(nil), Variants...)
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].Suite < vs[j].Suite })
		for _, v := range vs {
			fmt.Fprintf(stdout, "%-20s %-12s breaks %-24s %s\n", v.Name, v.Suite, v.Test, v.What)
		}
		return 0
	}
	fs := flag.NewFlagSet("refapp "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	fs.StringVar(&c.Server, "server", "", "sandbox base URL, e.g. http://localhost:8080")
	fs.StringVar(&c.Tenant, "tenant", "", "tenant id")
	fs.StringVar(&c.DevToken, "token", "", "the tenant's developer token (client registration only)")
	fs.StringVar(&c.Org, "org", "", "dho: the municipality's organisation number (the tenant's org)")
	fs.StringVar(&c.Variant, "variant", "", "bad variant to play (refapp variants lists them); empty: the good app")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if c.Server == "" || c.Tenant == "" || c.DevToken == "" {
		fmt.Fprintln(stderr, "refapp: --server, --tenant and --token are required")
		return 2
	}
	c.Log = stderr
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var err error
	switch args[0] {
	case "dho":
		err = RunDHO(ctx, c)
	case "smart":
		err = RunSMART(ctx, c)
	default:
		fmt.Fprintf(stderr, "refapp: unknown app %q (dho or smart)\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "refapp:", err)
		return 1
	}
	return 0
}

func checkVariant(c Config, suite string) error {
	if c.Variant == "" {
		return nil
	}
	for _, v := range Variants {
		if v.Name == c.Variant {
			if v.Suite != suite {
				return fmt.Errorf("variant %s is a %s app", v.Name, v.Suite)
			}
			return nil
		}
	}
	return fmt.Errorf("unknown variant %q (refapp variants lists them)", c.Variant)
}
