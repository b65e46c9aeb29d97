// Package apispec checks the requests that reach a sandbox fake against the vendor's own API
// description, so that a request the real service would refuse fails the project's tests too.
//
// One Validator per vendor description, built by a loader (GitHub, Slack, PagerDutyREST,
// PagerDutyEvents, Statuspage) from the folder of descriptions in shared/specs; Find locates that
// folder. A Validator is immutable and safe for concurrent use; loaders cache it per file, so every
// fake and test in a process shares one.
//
// Fakes listen on loopback, so each description's server URLs are reduced to their path
// (GitHub's "https://api.github.com" to "/", Statuspage's "https://api.statuspage.io/v1" to
// "/v1"): a request matches whatever host it was sent to, as long as its path is the vendor's.
package apispec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Error is a request the vendor would refuse. Fakes answer it with Status in the vendor's own
// error format.
type Error struct {
	// Status is what the vendor answers: 404 when no operation matches the method and path,
	// 400 for a body that is not valid JSON, and the vendor's status for an invalid parameter
	// or body otherwise (422 for GitHub, 400 for the others).
	Status int
	// Operation names the matched operation as "METHOD /path/template (operationId)"; it is
	// empty when nothing matched.
	Operation string
	// Err is kin-openapi's description of the problem.
	Err error
}

func (e *Error) Error() string {
	if e.Operation == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Operation, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Validator checks requests (and, for tests, responses) against one API description.
type Validator struct {
	router routers.Router
	// multiSegment lists the path templates with a parameter that may contain slashes,
	// most specific first (see escapeMultiSegment).
	multiSegment  []multiSegmentPath
	invalidStatus int
	options       openapi3filter.Options
}

// newValidator prepares doc for routing. invalidStatus is what the vendor answers for a bad
// parameter or body.
func newValidator(doc *openapi3.T, invalidStatus int, options openapi3filter.Options) (*Validator, error) {
	for _, server := range doc.Servers {
		u, err := url.Parse(server.URL)
		if err != nil {
			return nil, fmt.Errorf("parsing server URL %q: %w", server.URL, err)
		}
		server.URL = "/" + strings.Trim(u.Path, "/")
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("building the router: %w", err)
	}
	options.AuthenticationFunc = openapi3filter.NoopAuthenticationFunc
	// Validation must not write defaults into the body: the fake reads the body as sent.
	options.SkipSettingDefaults = true
	options.WithCustomSchemaErrorFunc(schemaErrorMessage)
	return &Validator{
		router:        router,
		multiSegment:  multiSegmentPaths(doc),
		invalidStatus: invalidStatus,
		options:       options,
	}, nil
}

// ValidateRequest reports whether the vendor would accept r with the given body (r.Body is not
// read: fakes have usually consumed it already). r's path must be the one the vendor sees, without
// any prefix the fake is served under. The error is an *Error.
func (v *Validator) ValidateRequest(r *http.Request, body []byte) error {
	input, err := v.route(r, body)
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(r.Context(), input); err != nil {
		return &Error{Status: v.statusFor(err), Operation: operationName(input.Route), Err: err}
	}
	return nil
}

// ValidateResponse reports whether a response to r matches what the description says the vendor
// answers: a status the operation documents must come with the documented body. Statuses the
// description does not list are not checked (GitHub documents few of its error answers).
func (v *Validator) ValidateResponse(r *http.Request, status int, header http.Header, body []byte) error {
	input, err := v.route(r, nil)
	if err != nil {
		return err
	}
	response := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &v.options,
	}
	if err := openapi3filter.ValidateResponse(r.Context(), response); err != nil {
		return fmt.Errorf("%s: response %d: %w", operationName(input.Route), status, err)
	}
	return nil
}

// route finds the operation r calls, on a copy of r carrying body.
func (v *Validator) route(r *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	routed := r.Clone(r.Context())
	routed.Body = io.NopCloser(bytes.NewReader(body))
	routed.ContentLength = int64(len(body))
	if escaped, ok := escapeMultiSegment(v.multiSegment, r.URL.EscapedPath()); ok {
		routed.URL.RawPath = escaped
	}
	route, pathParams, err := v.router.FindRoute(routed)
	if err != nil {
		return nil, &Error{
			Status: http.StatusNotFound,
			Err:    fmt.Errorf("no operation in the API description matches %s %s: %w", r.Method, r.URL.Path, err),
		}
	}
	return &openapi3filter.RequestValidationInput{
		Request:    routed,
		PathParams: pathParams,
		Route:      route,
		Options:    &v.options,
	}, nil
}

// statusFor picks the vendor's answer to a request that failed validation.
func (v *Validator) statusFor(err error) int {
	var requestErr *openapi3filter.RequestError
	var parseErr *openapi3filter.ParseError
	if errors.As(err, &requestErr) && requestErr.RequestBody != nil && errors.As(err, &parseErr) {
		return http.StatusBadRequest // the body could not be decoded at all
	}
	return v.invalidStatus
}

func operationName(route *routers.Route) string {
	return fmt.Sprintf("%s %s (%s)", route.Method, route.Path, route.Operation.OperationID)
}

// schemaErrorMessage shortens kin-openapi's schema errors, which by default quote the whole schema
// and value, to where the problem is and what it is.
func schemaErrorMessage(err *openapi3.SchemaError) string {
	if pointer := err.JSONPointer(); len(pointer) > 0 {
		return fmt.Sprintf("at /%s: %s", strings.Join(pointer, "/"), err.Reason)
	}
	return err.Reason
}

// multiSegmentPath is a path template whose parameter is marked x-multi-segment (a GitHub ref
// such as heads/release/v1.0.0, a file path): go-github sends its slashes unescaped.
type multiSegmentPath struct {
	prefix, suffix []string // the template's segments before and after the parameter
}

// multiSegmentPaths lists doc's templates with an x-multi-segment path parameter, those with the
// longest literal tail first so that ".../commits/{ref}/status" is tried before ".../commits/{ref}".
func multiSegmentPaths(doc *openapi3.T) []multiSegmentPath {
	var paths []multiSegmentPath
	for template, item := range doc.Paths.Map() {
		name := multiSegmentParameter(item)
		if name == "" {
			continue
		}
		segments := strings.Split(strings.TrimPrefix(template, "/"), "/")
		i := slices.Index(segments, "{"+name+"}")
		if i < 0 {
			continue
		}
		paths = append(paths, multiSegmentPath{prefix: segments[:i], suffix: segments[i+1:]})
	}
	slices.SortFunc(paths, func(a, b multiSegmentPath) int {
		if n := len(b.suffix) - len(a.suffix); n != 0 {
			return n
		}
		return len(b.prefix) - len(a.prefix)
	})
	return paths
}

// multiSegmentParameter names item's x-multi-segment path parameter, or returns "".
func multiSegmentParameter(item *openapi3.PathItem) string {
	parameters := slices.Clone(item.Parameters)
	for _, op := range item.Operations() {
		parameters = append(parameters, op.Parameters...)
	}
	for _, p := range parameters {
		if p.Value != nil && p.Value.In == openapi3.ParameterInPath && p.Value.Extensions["x-multi-segment"] == true {
			return p.Value.Name
		}
	}
	return ""
}

// escapeMultiSegment escapes, as %2F, the slashes inside the multi-segment parameter of the first
// template that path matches; the router then sees the parameter as one segment. It reports false
// when nothing needs escaping.
func escapeMultiSegment(templates []multiSegmentPath, path string) (string, bool) {
	segments := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, t := range templates {
		middle := len(segments) - len(t.prefix) - len(t.suffix)
		if middle < 1 || !segmentsMatch(t.prefix, segments[:len(t.prefix)]) ||
			!segmentsMatch(t.suffix, segments[len(segments)-len(t.suffix):]) {
			continue
		}
		if middle == 1 {
			return "", false
		}
		parameter := strings.Join(segments[len(t.prefix):len(t.prefix)+middle], "%2F")
		escaped := slices.Concat(segments[:len(t.prefix)], []string{parameter}, segments[len(segments)-len(t.suffix):])
		return "/" + strings.Join(escaped, "/"), true
	}
	return "", false
}

// segmentsMatch compares template segments with path segments; a {parameter} matches any
// non-empty segment.
func segmentsMatch(template, path []string) bool {
	for i, want := range template {
		isParameter := strings.HasPrefix(want, "{") && strings.HasSuffix(want, "}")
		if path[i] == "" || (!isParameter && path[i] != want) {
			return false
		}
	}
	return true
}
