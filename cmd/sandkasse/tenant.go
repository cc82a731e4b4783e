package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/sandkasse/sandkasse/sandbox/api"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
)

const tenantSynopsis = `create --name NAME --org ORGNR [--vendor-org ORGNR] [--format text|json] | list [--format text|json] | reset ID  [--data DIR | --database DSN]

create makes an isolated tenant seeded with a synthetic population and prints
its id, its FHIR base (/t/<id>/fhir) and a developer bearer token with all of
the tenant's scopes (shown once: only its hash is stored). --vendor-org is the
vendor's own organisation number, which the platform's certificates name;
without it the tenant gets no certificate from the platform. reset restores
the tenant's seeded data.`

func runTenant(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 {
		fmt.Fprintln(io.err, "usage: sandkasse tenant "+tenantSynopsis)
		return exitUsage
	}
	sub := args[0]
	fs := newFlags("tenant "+sub, tenantSynopsis, io.err)
	sf := addStoreFlags(fs)
	name := fs.String("name", "", "tenant name (create)")
	org := fs.String("org", "", "organisation number of the municipality the tenant plays, 9 digits (create)")
	vendorOrg := fs.String("vendor-org", "", "the vendor's own organisation number, named on its certificates (create)")
	format := fs.String("format", "text", "output format: text or json")
	patients := fs.Int("patients", tenant.DefaultPatients, "synthetic patients to seed (create, reset)")
	days := fs.Int("days", tenant.DefaultDays, "days of home measurements to seed (create, reset)")
	rest, code, done := parseFlags(fs, args[1:])
	if done {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(io.err, "sandkasse tenant: unknown format %q (want text or json)\n", *format)
		return exitUsage
	}
	switch sub {
	case "create", "list":
		if len(rest) > 0 {
			fmt.Fprintf(io.err, "sandkasse tenant %s: unexpected argument %q\n", sub, rest[0])
			return exitUsage
		}
	case "reset":
		if len(rest) != 1 {
			fmt.Fprintln(io.err, "sandkasse tenant reset: name one tenant id")
			return exitUsage
		}
	default:
		fmt.Fprintf(io.err, "sandkasse tenant: unknown subcommand %q (create, list, reset)\n", sub)
		return exitUsage
	}
	st, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse tenant:", err)
		return exitUsage
	}
	defer st.Close()
	svc := tenant.New(tenant.Options{Store: st, Patients: *patients, Days: *days})
	switch sub {
	case "create":
		c, err := svc.Create(ctx, tenant.Spec{Name: *name, Org: *org, VendorOrg: *vendorOrg})
		if err != nil {
			fmt.Fprintln(io.err, "sandkasse tenant create:", err)
			return exitUsage
		}
		t := api.TenantOf(c.Tenant, c.Token)
		if *format == "json" {
			enc := json.NewEncoder(io.out)
			enc.SetEscapeHTML(false)
			enc.Encode(t)
			return exitOK
		}
		fmt.Fprintf(io.out, "tenant    %s (%s, org %s)\n", t.ID, t.Name, t.Org)
		if t.VendorOrg != "" {
			fmt.Fprintf(io.out, "vendor    org %s\n", t.VendorOrg)
		}
		fmt.Fprintf(io.out, "fhir base %s\ntoken     %s\n", t.FHIRBase, t.Token)
	case "list":
		ts, err := svc.List(ctx)
		if err != nil {
			fmt.Fprintln(io.err, "sandkasse tenant list:", err)
			return exitUsage
		}
		out := []api.TenantJSON{}
		for _, t := range ts {
			out = append(out, api.TenantOf(t, ""))
		}
		if *format == "json" {
			enc := json.NewEncoder(io.out)
			enc.SetEscapeHTML(false)
			enc.Encode(out)
			return exitOK
		}
		tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tORG\tVENDOR ORG\tFHIR BASE\tCREATED")
		for _, t := range out {
			vendor := t.VendorOrg
			if vendor == "" {
				vendor = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Org, vendor, t.FHIRBase, t.Created.Format("2006-01-02 15:04"))
		}
		tw.Flush()
	case "reset":
		if err := svc.Reset(ctx, rest[0]); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				fmt.Fprintf(io.err, "sandkasse tenant reset: no tenant %q\n", rest[0])
			} else {
				fmt.Fprintln(io.err, "sandkasse tenant reset:", err)
			}
			return exitUsage
		}
		if *format == "json" {
			fmt.Fprintf(io.out, "{\"id\":%q,\"reset\":true}\n", rest[0])
		} else {
			fmt.Fprintf(io.out, "tenant %s reset to its seeded data\n", rest[0])
		}
	}
	return exitOK
}
