package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	fnrSystem = "urn:oid:2.16.578.1.12.4.1.4.1"
	dnrSystem = "urn:oid:2.16.578.1.12.4.1.4.2"
	vkpScope  = "nhn:vkp/api/user/"
)

type patient struct {
	ID, System, Number, Name string
}

// RunDHO plays the DHO platform against the tenant's mock VKP.
func RunDHO(ctx context.Context, c Config) error {
	if err := checkVariant(c, "dho-journal"); err != nil {
		return err
	}
	bad := c.Variant
	// Set-up (the vendor, with the developer token): the tenant's
	// municipality and the platform's HelseID client.
	if c.Org == "" {
		return fmt.Errorf("the municipality's organisation number (--org) is required")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	clientID := "refapp-dho-" + rand.Text()[:8]
	scopes := []string{vkpScope + "patient.read", vkpScope + "episodeofcare.read", vkpScope + "bundle.write"}
	if bad == "read-beyond-purpose" {
		scopes = append(scopes, vkpScope+"encounter.read")
	}
	reg, _ := json.Marshal(map[string]any{"client_id": clientID, "vkp_id": "Sandkasse_Refapp_DHO",
		"jwk": jose.JSONWebKey{Key: key.Public(), Algorithm: string(jose.ES256)}, "scopes": scopes})
	if _, err := c.call(ctx, 201, "registering the HelseID client", "POST", c.tenantURL("/vkp/clients"), "application/json", reg, "Authorization", "Bearer "+c.DevToken); err != nil {
		return err
	}

	// The app: a HelseID token with private_key_jwt.
	tokenURL := c.tenantURL("/vkp/helseid/connect/token")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return err
	}
	now := time.Now()
	assertion, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: clientID, Subject: clientID, Audience: jwt.Audience{tokenURL},
		ID: rand.Text(), IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(60 * time.Second))}).Serialize()
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {strings.Join(scopes, " ")},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	r, err := c.call(ctx, 200, "HelseID token", "POST", tokenURL, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := r.json(&tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("HelseID token: no access_token (%v)", err)
	}
	epj := c.tenantURL("/vkp/epj/r4/" + c.Org)
	auth := []string{"Authorization", "Bearer " + tok.AccessToken}
	dho := append([]string{"ServiceCodes", "dho"}, auth...)
	found := func(resource string, q url.Values) (reply, error) {
		return c.call(ctx, 200, resource+" search", "POST", epj+"/"+resource+"/_search", "application/x-www-form-urlencoded", []byte(q.Encode()), dho...)
	}
	badSearch := func(what string, hdr ...string) error {
		_, err := c.mistake(ctx, what, "POST", epj+"/Patient/_search", "application/x-www-form-urlencoded", []byte("_count=1"), hdr...)
		return err
	}

	switch bad {
	case "no-service-codes":
		if err := badSearch("search without ServiceCodes", auth...); err != nil {
			return err
		}
	case "no-token":
		if err := badSearch("search without a token", "ServiceCodes", "dho"); err != nil {
			return err
		}
	}

	// The platform's patients: the first two of the municipality's.
	r, err = found("Patient", url.Values{"_count": {"2"}})
	if err != nil {
		return err
	}
	pts, err := patients(r)
	if err != nil || len(pts) < 2 {
		return fmt.Errorf("patient search: want two patients with a national identity number (%v)", err)
	}
	p := pts[0]
	if _, err := found("Patient", url.Values{"identifier": {p.System + "|" + p.Number}}); err != nil {
		return err
	}
	if _, err := found("EpisodeOfCare", url.Values{"patient": {p.ID}}); err != nil {
		return err
	}
	if bad == "read-beyond-purpose" {
		if _, err := found("Encounter", url.Values{"patient": {p.ID}}); err != nil {
			return err
		}
	}

	// Journal notes, one per alert type.
	journal := func(doc map[string]any, codes string, status int) error {
		b, _ := json.Marshal(doc)
		_, err := c.call(ctx, status, "journaling", "POST", epj+"/Bundle", "application/fhir+json", b, append([]string{"ServiceCodes", codes}, auth...)...)
		return err
	}
	obs := heartRate(p, "/min", "final")
	switch bad {
	case "mixed-patients":
		obs = heartRate(pts[1], "/min", "final")
	}
	status := 201
	if bad == "invalid-journal" {
		obs, status = heartRate(p, "/min", "not-a-status"), 422
	}
	extra := []map[string]any(nil)
	if bad == "two-alerts" {
		extra = append(extra, detectedIssue("Puls over grenseverdi igjen", ""))
	}
	if err := journal(document(p, "Oppfølging av målevarsel", "Puls kontrollert, ingen tiltak.", obs, extra...), "dho", status); err != nil {
		return err
	}
	// Blood glucose: Norway reports mmol/L. (A heart rate in another unit
	// would be refused by the FHIR vital-signs profile already.)
	unit := "mmol/L"
	if bad == "wrong-unit" {
		unit = "mg/dL"
	}
	if err := journal(document(p, "Oppfølging av blodsukker", "Blodsukker høyt, pasienten ringt.", glucose(p, unit)), "dho", 201); err != nil {
		return err
	}
	device := map[string]any{"resourceType": "Device", "status": "active",
		"deviceName": []any{map[string]any{"name": "Trygghetsalarm", "type": "user-friendly-name"}}}
	return journal(document(p, "Oppfølging av alarm", "Alarm utløst, pasienten kontaktet.", device), "ta", 201)
}

func patients(r reply) ([]patient, error) {
	var b struct {
		Entry []struct {
			Resource struct {
				ID         string `json:"id"`
				Identifier []struct {
					System string `json:"system"`
					Value  string `json:"value"`
				} `json:"identifier"`
				Name []struct {
					Family string   `json:"family"`
					Given  []string `json:"given"`
				} `json:"name"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := r.json(&b); err != nil {
		return nil, err
	}
	var out []patient
	for _, e := range b.Entry {
		p := patient{ID: e.Resource.ID}
		for _, id := range e.Resource.Identifier {
			if id.System == fnrSystem || id.System == dnrSystem {
				p.System, p.Number = id.System, id.Value
				break
			}
		}
		if len(e.Resource.Name) > 0 {
			n := e.Resource.Name[0]
			p.Name = strings.TrimSpace(strings.Join(append(append([]string(nil), n.Given...), n.Family), " "))
		}
		if p.Number != "" && p.Name != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func subject(p patient) map[string]any {
	return map[string]any{"identifier": map[string]any{"system": p.System, "value": p.Number}, "display": p.Name}
}

func heartRate(p patient, unit, status string) map[string]any {
	return map[string]any{"resourceType": "Observation", "status": status,
		"category": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
		"code":     map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}}},
		"subject":  subject(p), "effectiveDateTime": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		"valueQuantity": map[string]any{"value": 112, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}
}

func glucose(p patient, unit string) map[string]any {
	value := 13.2
	if unit == "mg/dL" {
		value = 238
	}
	return map[string]any{"resourceType": "Observation", "status": "final",
		"category": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}}}},
		"code":     map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "15074-8", "display": "Glucose [Moles/volume] in Blood"}}},
		"subject":  subject(p), "effectiveDateTime": time.Now().UTC().Add(-2 * time.Hour).Format(time.RFC3339),
		"valueQuantity": map[string]any{"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}
}

func detectedIssue(detail, implicated string) map[string]any {
	d := map[string]any{"resourceType": "DetectedIssue", "status": "final", "detail": detail}
	if implicated != "" {
		d["implicated"] = []any{map[string]any{"reference": implicated}}
	}
	return d
}

// document is a journal note: Composition, the DetectedIssue of the alert
// it closes, and what the alert is about.
func document(p patient, title, note string, about map[string]any, extra ...map[string]any) map[string]any {
	comp, issue, thing := "urn:uuid:"+uuid(), "urn:uuid:"+uuid(), "urn:uuid:"+uuid()
	di := detectedIssue(title, thing)
	di["patient"] = subject(p)
	now := time.Now().UTC().Format(time.RFC3339)
	refs := []any{map[string]any{"reference": issue}, map[string]any{"reference": thing}}
	entries := []any{
		map[string]any{"fullUrl": comp, "resource": map[string]any{"resourceType": "Composition", "status": "final",
			"type":    map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "11506-3"}}},
			"subject": subject(p), "date": now, "author": []any{map[string]any{"display": "Sykepleier Sandkasse"}}, "title": title,
			"section": []any{map[string]any{"title": "Notat", "text": map[string]any{"status": "generated",
				"div": `<div xmlns="http://www.w3.org/1999/xhtml">` + note + `</div>`}, "entry": refs}}}},
		map[string]any{"fullUrl": issue, "resource": di},
		map[string]any{"fullUrl": thing, "resource": about},
	}
	for _, e := range extra {
		if _, ok := e["patient"]; !ok && e["resourceType"] == "DetectedIssue" {
			e["patient"] = subject(p)
		}
		entries = append(entries, map[string]any{"fullUrl": "urn:uuid:" + uuid(), "resource": e})
	}
	return map[string]any{"resourceType": "Bundle", "type": "document",
		"identifier": map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + uuid()},
		"timestamp":  now, "entry": entries}
}
