package fakeslack

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// obj is a JSON object in a Web API answer or a payload.
type obj = map[string]any

// apiError is a Web API answer {"ok":false,"error":code}. messages go to
// response_metadata.messages, as Slack explains invalid_blocks and invalid_arguments; fields are
// added at the top level (conversations.invite's per-user errors).
type apiError struct {
	code     string
	messages []string
	fields   obj
}

func (e *apiError) Error() string { return e.code }

func fail(code string, messages ...string) error { return &apiError{code: code, messages: messages} }

// webMethod is one Web API method: which token it takes and what it does. Handlers run with s.mu
// held and never block.
type webMethod struct {
	token  string
	handle func(s *Server, c *call) (obj, error)
}

func withBotToken(h func(s *Server, c *call) (obj, error)) webMethod {
	return webMethod{token: BotToken, handle: h}
}

// webMethods are the Web API methods the sandbox serves; any other is unknown_method.
var webMethods = map[string]webMethod{
	"auth.test":              withBotToken((*Server).authTest),
	"apps.connections.open":  {token: AppToken, handle: (*Server).appsConnectionsOpen},
	"chat.postMessage":       withBotToken((*Server).chatPostMessage),
	"chat.update":            withBotToken((*Server).chatUpdate),
	"chat.postEphemeral":     withBotToken((*Server).chatPostEphemeral),
	"chat.getPermalink":      withBotToken((*Server).chatGetPermalink),
	"conversations.create":   withBotToken((*Server).conversationsCreate),
	"conversations.setTopic": withBotToken((*Server).conversationsSetTopic),
	"conversations.invite":   withBotToken((*Server).conversationsInvite),
	"conversations.info":     withBotToken((*Server).conversationsInfo),
	"conversations.list":     withBotToken((*Server).conversationsList),
	"conversations.history":  withBotToken((*Server).conversationsHistory),
	"conversations.replies":  withBotToken((*Server).conversationsReplies),
	"conversations.members":  withBotToken((*Server).conversationsMembers),
	"pins.add":               withBotToken((*Server).pinsAdd),
	"pins.list":              withBotToken((*Server).pinsList),
	"reactions.add":          withBotToken((*Server).reactionsAdd),
	"users.info":             withBotToken((*Server).usersInfo),
	"users.list":             withBotToken((*Server).usersList),
	"users.lookupByEmail":    withBotToken((*Server).usersLookupByEmail),
	"usergroups.list":        withBotToken((*Server).usergroupsList),
	"usergroups.users.list":  withBotToken((*Server).usergroupsUsersList),
	"views.open":             withBotToken((*Server).viewsOpen),
	"views.update":           withBotToken((*Server).viewsUpdate),
	"views.push":             withBotToken((*Server).viewsPush),
}

// maxRequestBody is far above anything Slack accepts (a view may be 250 kB).
const maxRequestBody = 4 << 20

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/api/")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		s.answer(w, name, nil, fail("request_too_large"))
		return
	}
	spec, known := webMethods[name]
	if !known {
		s.answer(w, name, nil, fail("unknown_method"))
		return
	}
	s.mu.Lock()
	s.stats.Calls[name]++
	s.mu.Unlock()

	if v := s.opts.Validator; v != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := v.ValidateRequest(r, body); err != nil {
			s.answer(w, name, nil, fail("invalid_arguments", err.Error()))
			return
		}
	}
	c, err := parseCall(name, r, body)
	if err == nil {
		err = authorize(c.token, spec.token)
	}
	if err != nil {
		s.answer(w, name, nil, err)
		return
	}

	s.mu.Lock()
	retryAfter, limited := s.rateLimit(c)
	var payload []byte
	if !limited {
		answer, err := spec.handle(s, c)
		payload = s.encodeAnswer(name, answer, err)
	}
	s.mu.Unlock()

	if limited {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
		writeJSON(w, http.StatusTooManyRequests, obj{"ok": false, "error": "ratelimited"})
		return
	}
	writeRaw(w, http.StatusOK, payload)
}

// rateLimit applies RateLimitNext and the method's bucket, recording every 429. Callers hold s.mu.
func (s *Server) rateLimit(c *call) (time.Duration, bool) {
	retryAfter, limited := time.Second, s.faults.rateLimitNext > 0
	if limited {
		s.faults.rateLimitNext--
	} else {
		retryAfter, limited = s.limits.take(c.method, c.str("channel"), time.Now())
	}
	if limited {
		s.stats.RateLimited[c.method]++
		s.opts.Logger.Info().Str("method", c.method).Dur("retry_after", retryAfter).Msg("rate limited")
	}
	return retryAfter, limited
}

// answer writes a Web API answer that did not need the workspace lock.
func (s *Server) answer(w http.ResponseWriter, method string, answer obj, err error) {
	s.mu.Lock()
	payload := s.encodeAnswer(method, answer, err)
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, payload)
}

// encodeAnswer renders {"ok":true,...} or Slack's error, recording refusals. Callers hold s.mu
// (answers may share slices with the workspace).
func (s *Server) encodeAnswer(method string, answer obj, err error) []byte {
	if err != nil {
		ae := s.refuse(method, err)
		answer = obj{"ok": false, "error": ae.code}
		if len(ae.messages) > 0 {
			answer["response_metadata"] = obj{"messages": ae.messages}
		}
		for k, v := range ae.fields {
			answer[k] = v
		}
	} else {
		if answer == nil {
			answer = obj{}
		}
		answer["ok"] = true
	}
	data, merr := json.Marshal(answer)
	if merr != nil {
		return []byte(`{"ok":false,"error":"internal_error"}`)
	}
	return data
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"ok":false,"error":"internal_error"}`)
	}
	writeRaw(w, status, data)
}

func authorize(got, want string) error {
	switch got {
	case "":
		return fail("not_authed")
	case want:
		return nil
	case BotToken, AppToken:
		return fail("not_allowed_token_type")
	default:
		return fail("invalid_auth")
	}
}

// call is one Web API request's arguments, from the query string and a form or JSON body, as
// Slack accepts them. JSON-valued arguments (blocks, view, metadata) arrive as strings in a form
// and as values in a JSON body; jsonArg reads both.
type call struct {
	method string
	token  string
	params map[string]any
}

func parseCall(method string, r *http.Request, body []byte) (*call, error) {
	c := &call{method: method, params: map[string]any{}}
	for k, v := range r.URL.Query() {
		c.params[k] = v[0]
	}
	contentType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	formToken := c.str("token")
	switch {
	case len(bytes.TrimSpace(body)) == 0:
	case contentType == "application/json":
		var fields map[string]any
		if err := decodeJSON(body, &fields); err != nil {
			return nil, fail("invalid_json")
		}
		for k, v := range fields {
			if k != "token" { // Slack reads a JSON call's token only from the Authorization header
				c.params[k] = v
			}
		}
	case contentType == "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fail("invalid_form_data")
		}
		for k, v := range values {
			c.params[k] = v[0]
		}
		formToken = c.str("token")
	case contentType == "":
		return nil, fail("missing_post_type")
	default:
		return nil, fail("invalid_post_type")
	}
	c.token = formToken
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		c.token = bearer
	}
	return c, nil
}

// decodeJSON decodes keeping numbers as json.Number, so that re-encoding stored Block Kit does not
// turn integers into floats.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

func (c *call) has(name string) bool {
	_, ok := c.params[name]
	return ok
}

func (c *call) str(name string) string {
	switch v := c.params[name].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func (c *call) flag(name string) bool {
	switch v := c.params[name].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "1"
	case json.Number:
		return v.String() == "1"
	}
	return false
}

// limit reads a page size: def when absent, at most most.
func (c *call) limit(def, most int) int {
	n, err := strconv.Atoi(c.str("limit"))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, most)
}

// jsonArg returns a JSON-valued argument decoded, whether it came as a string or as JSON. null
// counts as absent.
func (c *call) jsonArg(name string) (v any, present bool, err error) {
	raw := c.params[name]
	if raw == nil {
		return nil, false, nil
	}
	s, isString := raw.(string)
	if !isString {
		return raw, true, nil
	}
	if err := decodeJSON([]byte(s), &v); err != nil {
		return nil, true, err
	}
	return v, true, nil
}
