package fakeaws

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// serviceError is an error as an AWS service reports it; each wire protocol writes it in its own
// shape.
type serviceError struct {
	status  int
	code    string
	message string
}

func internalFailure(err error) *serviceError {
	return &serviceError{http.StatusInternalServerError, "InternalFailure", err.Error()}
}

func (e *serviceError) fault() string {
	if e.status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// wire is one of the protocols AWS services speak: how a request names its operation and
// carries its input, and how results and errors are written back.
type wire interface {
	// operation names the operation the request calls.
	operation(r *http.Request, body []byte) (string, *serviceError)
	// decode reads the input as a decoded value of the model's input shape (see
	// serviceModel.check for the Go types used).
	decode(m *serviceModel, inputShape string, body []byte) (any, *serviceError)
	writeOutput(w http.ResponseWriter, requestID, operation string, output any)
	writeError(w http.ResponseWriter, requestID string, e *serviceError)
}

// queryWire is the awsQuery protocol (Elastic Load Balancing v2): a form-encoded POST naming
// Action and Version, answered in XML.
type queryWire struct {
	version string // the API version requests must name, e.g. "2015-12-01"
	xmlns   string // the namespace of the XML answers
}

func (q queryWire) operation(_ *http.Request, body []byte) (string, *serviceError) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", &serviceError{http.StatusBadRequest, "MalformedQueryString", err.Error()}
	}
	action, version := form.Get("Action"), form.Get("Version")
	if action == "" || version != q.version {
		return "", &serviceError{http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", action, version)}
	}
	return action, nil
}

func (q queryWire) decode(m *serviceModel, inputShape string, body []byte) (any, *serviceError) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &serviceError{http.StatusBadRequest, "MalformedQueryString", err.Error()}
	}
	value, _, err := decodeQueryValue(m, inputShape, form, "")
	if err != nil {
		return nil, &serviceError{http.StatusBadRequest, "ValidationError", err.Error()}
	}
	return value, nil
}

// decodeQueryValue reads the value of shapeID stored under key in an awsQuery form: structure
// members as key.Member (key "" for the input itself), list items as key.member.N, map entries as
// key.entry.N.key and key.entry.N.value. present is false when the form holds nothing there.
func decodeQueryValue(m *serviceModel, shapeID string, form url.Values, key string) (value any, present bool, err error) {
	s, modelled := m.shapes[shapeID]
	if !modelled {
		return form.Get(key), form.Has(key), nil
	}
	dot := key + "."
	if key == "" {
		dot = ""
	}
	switch s.kind {
	case "structure", "union":
		fields := map[string]any{}
		for name, mem := range s.members {
			v, ok, err := decodeQueryValue(m, mem.target, form, dot+name)
			if err != nil {
				return nil, false, err
			}
			if ok {
				fields[name] = v
			}
		}
		return fields, len(fields) > 0, nil
	case "list":
		items := []any{}
		for _, i := range queryIndices(form, dot+"member.") {
			item, _, err := decodeQueryValue(m, s.item, form, fmt.Sprintf("%smember.%d", dot, i))
			if err != nil {
				return nil, false, err
			}
			items = append(items, item)
		}
		// An empty list is sent as the bare key with an empty value.
		return items, len(items) > 0 || form.Has(key), nil
	case "map":
		entries := map[string]any{}
		for _, i := range queryIndices(form, dot+"entry.") {
			entry := fmt.Sprintf("%sentry.%d.", dot, i)
			v, _, err := decodeQueryValue(m, s.item, form, entry+"value")
			if err != nil {
				return nil, false, err
			}
			entries[form.Get(entry+"key")] = v
		}
		return entries, len(entries) > 0 || form.Has(key), nil
	}
	if !form.Has(key) {
		return nil, false, nil
	}
	raw := form.Get(key)
	var parseErr error
	switch s.kind {
	case "byte", "short", "integer", "long":
		value, parseErr = strconv.ParseInt(raw, 10, 64)
	case "float", "double":
		value, parseErr = strconv.ParseFloat(raw, 64)
	case "boolean":
		value, parseErr = strconv.ParseBool(raw)
	case "timestamp":
		value, parseErr = time.Parse(time.RFC3339, raw)
	default:
		value = raw
	}
	if parseErr != nil {
		return nil, false, fmt.Errorf("value '%s' at '%s' is not a valid %s", raw, key, s.kind)
	}
	return value, true, nil
}

// queryIndices returns, in order, the distinct N of the form's keys that start with prefix+N.
func queryIndices(form url.Values, prefix string) []int {
	var indices []int
	for key := range form {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		digits, _, _ := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(digits); err == nil && !slices.Contains(indices, n) {
			indices = append(indices, n)
		}
	}
	slices.Sort(indices)
	return indices
}

func (q queryWire) writeOutput(w http.ResponseWriter, requestID, operation string, output any) {
	result, err := xml.Marshal(output)
	if err != nil {
		q.writeError(w, requestID, internalFailure(err))
		return
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "<%sResponse xmlns=%q>", operation, q.xmlns)
	body.Write(result)
	fmt.Fprintf(&body, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>",
		requestID, operation)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(body.Bytes())
}

func (q queryWire) writeError(w http.ResponseWriter, requestID string, e *serviceError) {
	type errorResponse struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}
	body, _ := xml.Marshal(errorResponse{Xmlns: q.xmlns, Type: e.fault(), Code: e.code, Message: e.message, RequestID: requestID})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// jsonWire is the awsJson1.1 protocol (CloudWatch Logs): X-Amz-Target names the operation, the
// input and output are JSON objects, errors carry their code in __type.
type jsonWire struct {
	targetPrefix string // e.g. "Logs_20140328."
}

func (j jsonWire) operation(r *http.Request, _ []byte) (string, *serviceError) {
	return strings.TrimPrefix(r.Header.Get("X-Amz-Target"), j.targetPrefix), nil
}

func (jsonWire) decode(_ *serviceModel, _ string, body []byte) (any, *serviceError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return nil, &serviceError{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	return value, nil
}

func (j jsonWire) writeOutput(w http.ResponseWriter, requestID, _ string, output any) {
	body, err := json.Marshal(output)
	if err != nil {
		j.writeError(w, requestID, internalFailure(err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", requestID)
	_, _ = w.Write(body)
}

func (jsonWire) writeError(w http.ResponseWriter, requestID string, e *serviceError) {
	body, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// cborWire is Smithy RPC v2 CBOR (CloudWatch since aws-sdk-go-v2 service/cloudwatch v1.53): the
// path names service and operation, input and output are CBOR maps. CloudWatch is
// query-compatible: errors also carry the awsQuery code in X-Amzn-Query-Error.
type cborWire struct {
	service string // the path's service segment, e.g. "GraniteServiceVersion20100801"
}

func (c cborWire) operation(r *http.Request, _ []byte) (string, *serviceError) {
	operation, ok := strings.CutPrefix(r.URL.Path, "/service/"+c.service+"/operation/")
	if !ok || r.Method != http.MethodPost {
		return "", &serviceError{http.StatusNotFound, "UnknownOperationException",
			fmt.Sprintf("no operation at %s %s", r.Method, r.URL.Path)}
	}
	return operation, nil
}

func (cborWire) decode(_ *serviceModel, _ string, body []byte) (any, *serviceError) {
	if len(body) == 0 {
		return map[string]any{}, nil
	}
	decoded, err := cbor.Decode(body)
	if err != nil {
		return nil, &serviceError{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	value, err := fromCBOR(decoded)
	if err != nil {
		return nil, &serviceError{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	return value, nil
}

func (c cborWire) writeOutput(w http.ResponseWriter, requestID, _ string, output any) {
	c.write(w, requestID, http.StatusOK, toCBOR(output))
}

func (c cborWire) writeError(w http.ResponseWriter, requestID string, e *serviceError) {
	w.Header().Set("X-Amzn-Query-Error", e.code+";"+e.fault())
	c.write(w, requestID, e.status, cbor.Map{"__type": cbor.String(e.code), "message": cbor.String(e.message)})
}

func (cborWire) write(w http.ResponseWriter, requestID string, status int, v cbor.Value) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(v))
}

// fromCBOR converts a decoded CBOR item to the decoded-value types of serviceModel.check.
func fromCBOR(v cbor.Value) (any, error) {
	switch v := v.(type) {
	case cbor.Map:
		fields := make(map[string]any, len(v))
		for k, item := range v {
			converted, err := fromCBOR(item)
			if err != nil {
				return nil, err
			}
			fields[k] = converted
		}
		return fields, nil
	case cbor.List:
		items := make([]any, len(v))
		for i, item := range v {
			converted, err := fromCBOR(item)
			if err != nil {
				return nil, err
			}
			items[i] = converted
		}
		return items, nil
	case cbor.String:
		return string(v), nil
	case cbor.Uint:
		if v > math.MaxInt64 {
			return nil, fmt.Errorf("integer %d out of range", uint64(v))
		}
		return int64(v), nil
	case cbor.NegInt:
		// NegInt(n) is -n, and NegInt(0) is -2^64.
		if v == 0 || uint64(v) > 1<<63 {
			return nil, fmt.Errorf("negative integer out of range")
		}
		return -int64(uint64(v)-1) - 1, nil
	case cbor.Float32:
		return float64(v), nil
	case cbor.Float64:
		return float64(v), nil
	case cbor.Bool:
		return bool(v), nil
	case cbor.Slice:
		return []byte(v), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	case *cbor.Tag:
		// Tag 1 is an epoch-seconds timestamp, the only tag Smithy RPC v2 uses.
		if v.ID != 1 {
			return nil, fmt.Errorf("unsupported CBOR tag %d", v.ID)
		}
		inner, err := fromCBOR(v.Value)
		if err != nil {
			return nil, err
		}
		seconds, ok := number(inner)
		if !ok {
			return nil, fmt.Errorf("timestamp tag holding %T", v.Value)
		}
		whole, fraction := math.Modf(seconds)
		return time.Unix(int64(whole), int64(fraction*1e9)).UTC(), nil
	}
	return nil, fmt.Errorf("unsupported CBOR item %T", v)
}

// toCBOR encodes an operation's output, built from maps, slices and scalars.
func toCBOR(v any) cbor.Value {
	switch v := v.(type) {
	case nil:
		return &cbor.Nil{}
	case string:
		return cbor.String(v)
	case bool:
		return cbor.Bool(v)
	case float64:
		return cbor.Float64(v)
	case int:
		if v < 0 {
			return cbor.NegInt(-v)
		}
		return cbor.Uint(v)
	case time.Time:
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(v.UnixMilli()) / 1000)}
	case map[string]any:
		fields := make(cbor.Map, len(v))
		for k, item := range v {
			fields[k] = toCBOR(item)
		}
		return fields
	}
	items := reflect.ValueOf(v)
	if items.Kind() != reflect.Slice {
		panic(fmt.Sprintf("fakeaws: no CBOR encoding for %T", v))
	}
	list := make(cbor.List, items.Len())
	for i := range list {
		list[i] = toCBOR(items.Index(i).Interface())
	}
	return list
}
