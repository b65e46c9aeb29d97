package apispec

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// loaded caches one Validator per description file for the whole process: GitHub's alone costs
// about 2 s and 60 MB to load, and every fake and test needs the same immutable result.
var loaded sync.Map // absolute file path → func() (*Validator, error)

func cached(path string, load func(path string) (*Validator, error)) (*Validator, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", path, err)
	}
	once, _ := loaded.LoadOrStore(abs, sync.OnceValues(func() (*Validator, error) { return load(abs) }))
	return once.(func() (*Validator, error))()
}

// GitHub loads GitHub's REST description, dir/github/api.github.com.json (OpenAPI 3.0.3).
//
// Quirks: the description is not validated (doc.Validate reports example and path-conflict
// errors that do not matter for checking requests); parameters marked x-multi-segment (a ref such
// as heads/release/v1.0.0) have their slashes escaped before routing, since go-github sends them
// as they are; the "created" filter of workflow-run lists declares format date-time, yet its own
// text and GitHub take the search syntax (">=2024-05-01", "2024-05-01..2024-05-31"), so the
// format is dropped. An invalid parameter or body gets GitHub's 422.
func GitHub(dir string) (*Validator, error) {
	return cached(filepath.Join(dir, "github", "api.github.com.json"), func(path string) (*Validator, error) {
		doc, err := openapi3.NewLoader().LoadFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("loading GitHub's API description: %w", err)
		}
		if created := doc.Components.Parameters["created"]; created != nil && created.Value.Schema != nil {
			created.Value.Schema.Value.Format = ""
		}
		return newValidator(doc, http.StatusUnprocessableEntity, openapi3filter.Options{})
	})
}

// Slack loads the Slack Web API description, dir/slack/slack_web_openapi_v2.json (Swagger 2.0,
// last updated 2021), converted to OpenAPI 3.
//
// Quirks, each patched in memory:
//   - alternatives are written as an array-valued "items" (draft-4 tuples), which the Swagger
//     loader refuses; those schemas, all in responses, are relaxed to accept any value;
//   - every method declares a required "token" parameter, but Slack equally takes the token from
//     an "Authorization: Bearer" header: the parameter is made optional and the fake checks the
//     token itself;
//   - Slack accepts every method by GET or POST, while the description lists reads as GET with
//     query parameters; slack-go POSTs forms (conversations.history) and JSON (views.open), so
//     each GET-only method also accepts a POST carrying the same arguments;
//   - in a JSON body Slack takes structured values (view, blocks) where the description, written
//     for forms, says string: string arguments accept any JSON value in JSON bodies;
//   - apps.connections.open, which Socket Mode needs, came after the description: it is added.
func Slack(dir string) (*Validator, error) {
	return cached(filepath.Join(dir, "slack", "slack_web_openapi_v2.json"), func(path string) (*Validator, error) {
		raw, err := readJSON(path)
		if err != nil {
			return nil, fmt.Errorf("loading Slack's API description: %w", err)
		}
		relaxTupleItems(raw)
		paths, _ := raw["paths"].(map[string]any)
		makeTokenOptional(paths)
		acceptPostForGetMethods(paths)
		paths["/apps.connections.open"] = map[string]any{"post": map[string]any{
			"operationId": "apps_connections_open",
			"consumes":    []any{"application/x-www-form-urlencoded", "application/json"},
			"responses":   map[string]any{"200": map[string]any{"description": "A WebSocket URL"}},
		}}
		var doc2 openapi2.T
		if err := remarshal(raw, &doc2); err != nil {
			return nil, fmt.Errorf("loading Slack's API description: %w", err)
		}
		doc, err := openapi2conv.ToV3(&doc2)
		if err != nil {
			return nil, fmt.Errorf("converting Slack's API description to OpenAPI 3: %w", err)
		}
		relaxJSONBodies(doc)
		return newValidator(doc, http.StatusBadRequest, openapi3filter.Options{})
	})
}

// PagerDutyREST loads PagerDuty's REST API v2 description, dir/pagerduty/rest-openapiv3.json.
//
// Quirks: two "PUT …/cache_variables/{id}/data" responses reference a request-body component,
// which the loader refuses; they are rewritten as responses with that body's content. Reference
// objects mark "id" read-only yet ServiceReference requires it in requests, so read-only
// properties are not checked. go-pagerduty sends "priority": null when creating an incident
// without one, which PagerDuty accepts and the description does not: null is allowed there.
// Write calls must carry the From header, as PagerDuty demands.
func PagerDutyREST(dir string) (*Validator, error) {
	return cached(filepath.Join(dir, "pagerduty", "rest-openapiv3.json"), func(path string) (*Validator, error) {
		raw, err := readJSON(path)
		if err != nil {
			return nil, fmt.Errorf("loading PagerDuty's REST API description: %w", err)
		}
		if err := inlineRequestBodiesUsedAsResponses(raw); err != nil {
			return nil, fmt.Errorf("loading PagerDuty's REST API description: %w", err)
		}
		allowNullPriority(raw)
		data, err := json.Marshal(raw)
		if err != nil {
			return nil, fmt.Errorf("loading PagerDuty's REST API description: %w", err)
		}
		doc, err := openapi3.NewLoader().LoadFromData(data)
		if err != nil {
			return nil, fmt.Errorf("loading PagerDuty's REST API description: %w", err)
		}
		return newValidator(doc, http.StatusBadRequest, openapi3filter.Options{ExcludeReadOnlyValidations: true})
	})
}

// PagerDutyEvents loads PagerDuty's Events API v2 description,
// dir/pagerduty/events-v2-openapiv3.json. Its server URL ends in /v2, so requests go to /v2/enqueue.
func PagerDutyEvents(dir string) (*Validator, error) {
	return cached(filepath.Join(dir, "pagerduty", "events-v2-openapiv3.json"), func(path string) (*Validator, error) {
		doc, err := openapi3.NewLoader().LoadFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("loading PagerDuty's Events API description: %w", err)
		}
		return newValidator(doc, http.StatusBadRequest, openapi3filter.Options{})
	})
}

// Statuspage loads Atlassian Statuspage's REST description,
// dir/statuspage/statuspage-openapi3.json. Its server URL includes /v1, so requests go to
// /v1/pages/{page_id}/…; paths carry no ".json" suffix.
func Statuspage(dir string) (*Validator, error) {
	return cached(filepath.Join(dir, "statuspage", "statuspage-openapi3.json"), func(path string) (*Validator, error) {
		doc, err := openapi3.NewLoader().LoadFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("loading Statuspage's API description: %w", err)
		}
		return newValidator(doc, http.StatusBadRequest, openapi3filter.Options{})
	})
}

func readJSON(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	return raw, nil
}

func remarshal(from, to any) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, to)
}

// relaxTupleItems removes every array-valued "items" below node, except inside examples (which
// are data, where "items" can be a real field): an array schema's items become any value, any
// other schema loses the keyword.
func relaxTupleItems(node any) {
	switch node := node.(type) {
	case map[string]any:
		if _, isTuple := node["items"].([]any); isTuple {
			if node["type"] == "array" {
				node["items"] = map[string]any{}
			} else {
				delete(node, "items")
			}
		}
		for key, child := range node {
			if key != "examples" && key != "example" {
				relaxTupleItems(child)
			}
		}
	case []any:
		for _, child := range node {
			relaxTupleItems(child)
		}
	}
}

// makeTokenOptional marks every operation's "token" parameter as not required.
func makeTokenOptional(paths map[string]any) {
	for _, item := range paths {
		operations, _ := item.(map[string]any)
		for _, op := range operations {
			op, _ := op.(map[string]any)
			parameters, _ := op["parameters"].([]any)
			for _, p := range parameters {
				if p, ok := p.(map[string]any); ok && p["name"] == "token" {
					p["required"] = false
				}
			}
		}
	}
}

// acceptPostForGetMethods gives every GET-only Swagger operation a POST twin whose query
// parameters are form fields.
func acceptPostForGetMethods(paths map[string]any) {
	for _, item := range paths {
		operations, _ := item.(map[string]any)
		get, isGet := operations["get"].(map[string]any)
		if _, hasPost := operations["post"]; !isGet || hasPost {
			continue
		}
		post := maps.Clone(get)
		parameters, _ := get["parameters"].([]any)
		postParameters := make([]any, len(parameters))
		for i, p := range parameters {
			postParameters[i] = p
			if p, ok := p.(map[string]any); ok && p["in"] == "query" {
				field := maps.Clone(p)
				field["in"] = "formData"
				postParameters[i] = field
			}
		}
		post["parameters"] = postParameters
		post["consumes"] = []any{"application/x-www-form-urlencoded", "application/json"}
		operations["post"] = post
	}
}

// relaxJSONBodies lets every string property of a JSON request body take any JSON value. The
// converted form and JSON bodies share one schema, so the JSON one gets a relaxed copy.
func relaxJSONBodies(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			media := op.RequestBody.Value.Content.Get("application/json")
			if media == nil || media.Schema == nil || media.Schema.Value == nil {
				continue
			}
			relaxed := *media.Schema.Value
			relaxed.Properties = openapi3.Schemas{}
			for name, property := range media.Schema.Value.Properties {
				if property.Value != nil && property.Value.Type.Is(openapi3.TypeString) {
					property = openapi3.NewSchemaRef("", &openapi3.Schema{})
				}
				relaxed.Properties[name] = property
			}
			op.RequestBody.Value.Content["application/json"] = openapi3.NewMediaType().WithSchema(&relaxed)
		}
	}
}

// allowNullPriority lets the incident of a "POST /incidents" body carry "priority": null.
func allowNullPriority(doc map[string]any) {
	incident, ok := dig(doc, "paths", "/incidents", "post", "requestBody", "content", "application/json",
		"schema", "properties", "incident", "properties")
	if ok && incident["priority"] != nil {
		incident["priority"] = map[string]any{"allOf": []any{incident["priority"]}, "nullable": true}
	}
}

// dig follows keys down nested JSON objects.
func dig(node map[string]any, keys ...string) (map[string]any, bool) {
	for _, key := range keys {
		child, ok := node[key].(map[string]any)
		if !ok {
			return nil, false
		}
		node = child
	}
	return node, true
}

// inlineRequestBodiesUsedAsResponses replaces each response that references a request-body
// component with a response carrying that component's description and content.
func inlineRequestBodiesUsedAsResponses(doc map[string]any) error {
	const prefix = "#/components/requestBodies/"
	components, _ := doc["components"].(map[string]any)
	requestBodies, _ := components["requestBodies"].(map[string]any)
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		operations, _ := item.(map[string]any)
		for _, op := range operations {
			op, _ := op.(map[string]any)
			responses, _ := op["responses"].(map[string]any)
			for status, response := range responses {
				response, _ := response.(map[string]any)
				ref, _ := response["$ref"].(string)
				name, found := strings.CutPrefix(ref, prefix)
				if !found {
					continue
				}
				body, ok := requestBodies[name].(map[string]any)
				if !ok {
					return fmt.Errorf("response %s refers to the missing %s", status, ref)
				}
				description, _ := body["description"].(string)
				responses[status] = map[string]any{"description": description, "content": body["content"]}
			}
		}
	}
	return nil
}
