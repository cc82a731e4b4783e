package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"time"
)

const redirectURI = "http://refapp.example/callback"

// smartScopes are what the app is registered for and asks for.
var smartScopes = []string{"patient/Patient.rs", "patient/Observation.cruds"}

var pickerLink = regexp.MustCompile(`<a href="([^"]+)"`)

// RunSMART plays the SMART on FHIR app against the tenant's mock EPR.
func RunSMART(ctx context.Context, c Config) error {
	if err := checkVariant(c, "smart-app"); err != nil {
		return err
	}
	bad := c.Variant
	clientID := "refapp-smart-" + rand.Text()[:8]
	reg, _ := json.Marshal(map[string]any{"client_id": clientID, "redirect_uris": []string{redirectURI}, "scopes": smartScopes})
	if _, err := c.call(ctx, 201, "registering the SMART client", "POST", c.tenantURL("/smart/clients"), "application/json", reg,
		"Authorization", "Bearer "+c.DevToken); err != nil {
		return err
	}
	fhir := c.tenantURL("/fhir")
	authorize := c.tenantURL("/smart/authorize")
	scope := "launch/patient openid fhirUser " + strings.Join(smartScopes, " ")

	// authorizeReq is the standalone launch: PKCE S256, state, aud.
	authorizeReq := func(q url.Values) (reply, error) {
		return c.do(ctx, "GET", authorize+"?"+q.Encode(), "", nil)
	}
	params := func(challenge string) url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}, "scope": {scope},
			"state": {rand.Text()}, "aud": {fhir}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	}
	switch bad {
	case "no-pkce":
		q := params("")
		q.Del("code_challenge")
		q.Del("code_challenge_method")
		if err := redirectedWithError(authorizeReq(q)); err != nil {
			return fmt.Errorf("authorisation without PKCE: %w", err)
		}
	case "bad-scope":
		q := params(challengeOf(verifier()))
		q.Set("scope", "launch/patient patient/Observation.readwrite")
		if err := redirectedWithError(authorizeReq(q)); err != nil {
			return fmt.Errorf("authorisation with a bad scope: %w", err)
		}
	}

	// login runs the authorisation code flow: the picker (the user chooses
	// the first patient), the redirect with the code, the code exchange.
	login := func(ver string, wantToken bool) (token, patientID string, err error) {
		q := params(challengeOf(ver))
		r, err := c.call(ctx, 200, "authorisation (patient picker)", "GET", authorize+"?"+q.Encode(), "", nil)
		if err != nil {
			return "", "", err
		}
		m := pickerLink.FindSubmatch(r.body)
		if m == nil {
			return "", "", fmt.Errorf("the patient picker lists no patient")
		}
		link, err := url.Parse(html.UnescapeString(string(m[1])))
		if err != nil {
			return "", "", err
		}
		base, _ := url.Parse(authorize)
		r, err = c.call(ctx, 302, "authorisation (patient chosen)", "GET", base.ResolveReference(link).String(), "", nil)
		if err != nil {
			return "", "", err
		}
		loc, err := url.Parse(r.header.Get("Location"))
		if err != nil || loc.Query().Get("code") == "" {
			return "", "", fmt.Errorf("the authorisation redirect carries no code: %s", loc.Query().Get("error_description"))
		}
		if loc.Query().Get("state") != q.Get("state") {
			return "", "", fmt.Errorf("the authorisation redirect carries another state")
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirectURI},
			"client_id": {clientID}, "code_verifier": {ver}}
		want := 200
		if !wantToken {
			want = 400
		}
		r, err = c.call(ctx, want, "code exchange", "POST", c.tenantURL("/smart/token"), "application/x-www-form-urlencoded", []byte(form.Encode()))
		if err != nil || !wantToken {
			return "", "", err
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			Patient     string `json:"patient"`
		}
		if err := r.json(&tok); err != nil || tok.AccessToken == "" || tok.Patient == "" {
			return "", "", fmt.Errorf("code exchange: no access_token or patient (%v)", err)
		}
		return tok.AccessToken, tok.Patient, nil
	}
	if bad == "short-verifier" {
		// The challenge is made from the short verifier; the sandbox
		// refuses it at the exchange and the code is spent.
		if _, _, err := login(verifier()[:20], false); err != nil {
			return err
		}
	}
	token, pid, err := login(verifier(), true)
	if err != nil {
		return err
	}
	auth := []string{"Authorization", "Bearer " + token, "Accept", "application/fhir+json"}

	if bad == "token-in-url" {
		if _, err := c.mistake(ctx, "read with the token in the URL", "GET", fhir+"/Patient/"+pid+"?access_token="+url.QueryEscape(token), "", nil); err != nil {
			return err
		}
	}
	if _, err := c.call(ctx, 200, "reading the patient", "GET", fhir+"/Patient/"+pid, "", nil, auth...); err != nil {
		return err
	}
	if _, err := c.call(ctx, 200, "searching observations", "GET", fhir+"/Observation?patient="+url.QueryEscape(pid)+"&_count=10", "", nil, auth...); err != nil {
		return err
	}
	if bad == "outside-scopes" {
		if _, err := c.mistake(ctx, "searching Condition", "GET", fhir+"/Condition?patient="+url.QueryEscape(pid), "", nil, auth...); err != nil {
			return err
		}
	}
	write := append([]string{"Content-Type", "application/fhir+json"}, auth...)
	obs := bodyWeight(pid, "final")
	b, _ := json.Marshal(obs)
	r, err := c.call(ctx, 201, "writing an observation", "POST", fhir+"/Observation", "application/fhir+json", b, write...)
	if err != nil {
		return err
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := r.json(&created); err != nil || created.ID == "" {
		return fmt.Errorf("the created Observation has no id (%v)", err)
	}
	obs["id"] = created.ID
	obs["note"] = []any{map[string]any{"text": "Målt etter frokost."}}
	b, _ = json.Marshal(obs)
	if _, err := c.call(ctx, 200, "updating the observation", "PUT", fhir+"/Observation/"+created.ID, "application/fhir+json", b, write...); err != nil {
		return err
	}
	switch bad {
	case "wrong-endpoint":
		obs["id"] = "not-" + created.ID
		b, _ = json.Marshal(obs)
		if _, err := c.mistake(ctx, "update with another id in the body", "PUT", fhir+"/Observation/"+created.ID, "application/fhir+json", b, write...); err != nil {
			return err
		}
	case "invalid-write":
		b, _ = json.Marshal(bodyWeight(pid, "not-a-status"))
		if _, err := c.mistake(ctx, "create of an invalid Observation", "POST", fhir+"/Observation", "application/fhir+json", b, write...); err != nil {
			return err
		}
	}
	return nil
}

func redirectedWithError(r reply, err error) error {
	if err != nil {
		return err
	}
	loc, perr := url.Parse(r.header.Get("Location"))
	if r.status != 302 || perr != nil || loc.Query().Get("error") == "" {
		return fmt.Errorf("the sandbox did not refuse it (status %d)", r.status)
	}
	return nil
}

func verifier() string {
	var b [48]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func challengeOf(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func bodyWeight(pid, status string) map[string]any {
	return map[string]any{"resourceType": "Observation", "status": status,
		"category": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
		"code":     map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}}},
		"subject":  map[string]any{"reference": "Patient/" + pid}, "effectiveDateTime": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		"valueQuantity": map[string]any{"value": 81.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}
}
