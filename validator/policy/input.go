package policy

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Input is what one evaluation sees. Exactly one of Resource and Exchange is
// set; Context is optional facts the runner knows and the input does not
// carry (see the package documentation for its documented keys).
//
// Policies read it as input.resource, input.exchange and input.context, so a
// rule about resources is silent on exchanges and the other way round.
type Input struct {
	Resource json.RawMessage `json:"resource,omitempty"`
	Exchange *Exchange       `json:"exchange,omitempty"`
	Context  map[string]any  `json:"context,omitempty"`
}

// Exchange is one recorded HTTP request and its response, as the suite runner
// stores them from a tenant's mock endpoints.
type Exchange struct {
	Method string `json:"method"` // upper case: GET, POST, PUT …
	// URL is the request target as the app sent it, with scheme and host when
	// known, query included.
	URL string `json:"url"`
	// Path is the URL path without the query, percent-decoded.
	Path string `json:"path"`
	// Query holds the query parameters, each with every value in order.
	Query map[string][]string `json:"query,omitempty"`
	// Headers holds the request headers with lower-case names.
	Headers map[string][]string `json:"headers,omitempty"`
	// Body is the request body: a JSON value when the content type is JSON,
	// an object of string arrays when it is form-encoded, a string otherwise,
	// absent when empty. See DecodeBody.
	Body any `json:"body,omitempty"`
	// Status is the response status code (0 when no response was recorded).
	Status int `json:"status"`
	// ResponseHeaders holds the response headers with lower-case names.
	ResponseHeaders map[string][]string `json:"responseHeaders,omitempty"`
	// ResponseBody is the response body, decoded like Body.
	ResponseBody any `json:"responseBody,omitempty"`
}

// Value converts the input to the form the evaluator reads. Converting once
// and calling EvalValue saves the work when several engines look at the same
// input.
func (in *Input) Value() (ast.Value, error) { return in.value() }

func (in *Input) value() (ast.Value, error) {
	if in == nil || (len(in.Resource) == 0) == (in.Exchange == nil) {
		return nil, errors.New("policy: an input holds exactly one of a resource and an exchange")
	}
	obj := ast.NewObject()
	if len(in.Resource) > 0 {
		v, err := jsonValue(in.Resource)
		if err != nil {
			return nil, fmt.Errorf("policy: resource: %w", err)
		}
		obj.Insert(resourceKey, ast.NewTerm(v))
	} else {
		v, err := exchangeValue(in.Exchange)
		if err != nil {
			return nil, fmt.Errorf("policy: exchange: %w", err)
		}
		obj.Insert(exchangeKey, ast.NewTerm(v))
	}
	if len(in.Context) > 0 {
		v, err := ast.InterfaceToValue(in.Context)
		if err != nil {
			return nil, fmt.Errorf("policy: context: %w", err)
		}
		obj.Insert(contextKey, ast.NewTerm(v))
	}
	return obj, nil
}

// The input's top-level keys, made once: ast.InternedTerm allocates a new
// term for any string OPA has not interned itself, and these are not.
var (
	resourceKey = ast.StringTerm("resource")
	exchangeKey = ast.StringTerm("exchange")
	contextKey  = ast.StringTerm("context")
)
