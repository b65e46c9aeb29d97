package fakeaws

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Models holds the Smithy models of the three services the fake answers, reduced to what
// checking a request needs: each operation's input shape and, per shape, its members and the
// constraint traits (required, enum, length, range, pattern). Load it once with LoadModels; it
// is immutable and safe to share between servers.
type Models struct {
	elb, cloudWatch, logs *serviceModel
}

// LoadModels reads the models from specsDir/aws (the folder of vendor API descriptions, see
// sandbox/apispec.Find).
func LoadModels(specsDir string) (*Models, error) {
	var m Models
	for _, load := range []struct {
		into *(*serviceModel)
		file string
	}{
		{&m.elb, "elastic-load-balancing-v2-2015-12-01.json"},
		{&m.cloudWatch, "cloudwatch-2010-08-01.json"},
		{&m.logs, "cloudwatch-logs-2014-03-28.json"},
	} {
		model, err := loadServiceModel(filepath.Join(specsDir, "aws", load.file))
		if err != nil {
			return nil, fmt.Errorf("loading the AWS model %s: %w", load.file, err)
		}
		*load.into = model
	}
	return &m, nil
}

// serviceModel is one service's shapes, by absolute shape ID ("com.amazonaws.logs#LogGroupName").
type serviceModel struct {
	shapes map[string]*shape
	inputs map[string]string // operation name → its input shape ID
}

// shape is a Smithy shape with the traits that constrain a request. Shapes of the Smithy prelude
// (smithy.api#String and the like) are not in the model and are not checked.
type shape struct {
	kind    string // Smithy type: structure, union, list, map, string, enum, integer, long, timestamp, …
	members map[string]member
	item    string // a list's member or a map's value target
	key     string // a map's key target

	// min and max bound a string's characters, a list's items or a map's entries (the length
	// trait) or a number's value (the range trait).
	min, max *float64
	pattern  *regexp.Regexp
	enum     []string // an enum's values, sorted
}

type member struct {
	target   string
	required bool
}

// The model file's JSON, as far as it is read.
type (
	modelFile struct {
		Shapes map[string]modelShape `json:"shapes"`
	}
	modelShape struct {
		Type    string                     `json:"type"`
		Input   *modelMember               `json:"input"`
		Members map[string]modelMember     `json:"members"`
		Member  *modelMember               `json:"member"`
		Key     *modelMember               `json:"key"`
		Value   *modelMember               `json:"value"`
		Traits  map[string]json.RawMessage `json:"traits"`
	}
	modelMember struct {
		Target string                     `json:"target"`
		Traits map[string]json.RawMessage `json:"traits"`
	}
	bounds struct {
		Min *float64 `json:"min"`
		Max *float64 `json:"max"`
	}
)

func loadServiceModel(path string) (*serviceModel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file modelFile
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	m := &serviceModel{shapes: map[string]*shape{}, inputs: map[string]string{}}
	for id, raw := range file.Shapes {
		if raw.Type == "operation" {
			if raw.Input != nil {
				m.inputs[id[strings.IndexByte(id, '#')+1:]] = raw.Input.Target
			}
			continue
		}
		s, err := newShape(raw)
		if err != nil {
			return nil, fmt.Errorf("shape %s: %w", id, err)
		}
		m.shapes[id] = s
	}
	return m, nil
}

func newShape(raw modelShape) (*shape, error) {
	s := &shape{kind: raw.Type}
	switch raw.Type {
	case "structure", "union":
		s.members = map[string]member{}
		for name, m := range raw.Members {
			_, required := m.Traits["smithy.api#required"]
			s.members[name] = member{target: m.Target, required: required}
		}
	case "enum":
		for name, m := range raw.Members {
			value := name
			if v, ok := m.Traits["smithy.api#enumValue"]; ok {
				if err := json.Unmarshal(v, &value); err != nil {
					return nil, fmt.Errorf("enum value of %s: %w", name, err)
				}
			}
			s.enum = append(s.enum, value)
		}
		slices.Sort(s.enum)
	case "list":
		s.item = raw.Member.Target
	case "map":
		s.key, s.item = raw.Key.Target, raw.Value.Target
	}
	for _, trait := range []string{"smithy.api#length", "smithy.api#range"} {
		if v, ok := raw.Traits[trait]; ok {
			var b bounds
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, fmt.Errorf("%s: %w", trait, err)
			}
			s.min, s.max = b.Min, b.Max
		}
	}
	if v, ok := raw.Traits["smithy.api#pattern"]; ok {
		var pattern string
		if err := json.Unmarshal(v, &pattern); err != nil {
			return nil, fmt.Errorf("pattern: %w", err)
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", pattern, err)
		}
		s.pattern = re
	}
	return s, nil
}

// input returns the input shape ID of the named operation.
func (m *serviceModel) input(operation string) (string, bool) {
	id, ok := m.inputs[operation]
	return id, ok
}

// check returns one line per constraint the decoded request value breaks, worded and addressed
// as AWS words them ("Value null at 'metricDataQueries.1.member.id' failed to satisfy
// constraint: Member must not be null").
//
// A decoded value is what the protocols produce: map[string]any for structures and maps, []any
// for lists, string, bool, time.Time, and numbers as int64, float64 or json.Number.
func (m *serviceModel) check(shapeID string, value any) []string {
	var problems []string
	m.checkValue(shapeID, value, "", &problems)
	return problems
}

func (m *serviceModel) checkValue(shapeID string, value any, path string, problems *[]string) {
	s, ok := m.shapes[shapeID]
	if !ok {
		return
	}
	fail := func(constraint string) {
		*problems = append(*problems, fmt.Sprintf("Value '%v' at '%s' failed to satisfy constraint: %s",
			value, path, constraint))
	}
	switch s.kind {
	case "structure", "union":
		fields, ok := value.(map[string]any)
		if !ok {
			fail("Member must be a structure")
			return
		}
		for _, name := range slices.Sorted(maps.Keys(s.members)) {
			mem := s.members[name]
			at := joinPath(path, lowerFirst(name))
			v, present := fields[name]
			switch {
			case present && v != nil:
				m.checkValue(mem.target, v, at, problems)
			case mem.required:
				*problems = append(*problems, fmt.Sprintf(
					"Value null at '%s' failed to satisfy constraint: Member must not be null", at))
			}
		}
	case "list":
		items, ok := value.([]any)
		if !ok {
			fail("Member must be a list")
			return
		}
		checkLength(s, len(items), fail)
		for i, item := range items {
			m.checkValue(s.item, item, fmt.Sprintf("%s.%d.member", path, i+1), problems)
		}
	case "map":
		entries, ok := value.(map[string]any)
		if !ok {
			fail("Member must be a map")
			return
		}
		checkLength(s, len(entries), fail)
		for _, k := range slices.Sorted(maps.Keys(entries)) {
			m.checkValue(s.key, k, path+".key", problems)
			m.checkValue(s.item, entries[k], fmt.Sprintf("%s.%s", path, k), problems)
		}
	case "string":
		text, ok := value.(string)
		if !ok {
			fail("Member must be a string")
			return
		}
		checkLength(s, utf8.RuneCountInString(text), fail)
		if s.pattern != nil && !s.pattern.MatchString(text) {
			fail("Member must satisfy regular expression pattern: " + s.pattern.String())
		}
	case "enum":
		if text, ok := value.(string); !ok || !slices.Contains(s.enum, text) {
			fail(fmt.Sprintf("Member must satisfy enum value set: [%s]", strings.Join(s.enum, ", ")))
		}
	case "byte", "short", "integer", "long", "float", "double", "bigInteger", "bigDecimal":
		n, ok := number(value)
		if !ok {
			fail("Member must be a number")
			return
		}
		if s.min != nil && n < *s.min {
			fail(fmt.Sprintf("Member must have value greater than or equal to %v", *s.min))
		}
		if s.max != nil && n > *s.max {
			fail(fmt.Sprintf("Member must have value less than or equal to %v", *s.max))
		}
	case "boolean":
		if _, ok := value.(bool); !ok {
			fail("Member must be a boolean")
		}
	case "timestamp":
		if _, isTime := value.(time.Time); !isTime {
			if _, isNumber := number(value); !isNumber {
				fail("Member must be a timestamp")
			}
		}
	}
}

func checkLength(s *shape, n int, fail func(string)) {
	if s.min != nil && float64(n) < *s.min {
		fail(fmt.Sprintf("Member must have length greater than or equal to %v", *s.min))
	}
	if s.max != nil && float64(n) > *s.max {
		fail(fmt.Sprintf("Member must have length less than or equal to %v", *s.max))
	}
}

// number reads the numeric forms the protocol decoders produce.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// lowerFirst turns a member name into the form AWS's validation messages use ("MetricDataQueries"
// → "metricDataQueries").
func lowerFirst(name string) string {
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToLower(r)) + name[size:]
}
