// Package fakeaws is the sandbox AWS account that post-deployment verification reads: Elastic
// Load Balancing v2 target health, CloudWatch metrics and alarms, and CloudWatch Logs events,
// served on one loopback endpoint so that the unmodified aws-sdk-go-v2 clients talk to it through
// AWS_ENDPOINT_URL (or aws.Config.BaseEndpoint).
//
// Each service speaks its real wire protocol, routed by its markers: ELBv2 awsQuery (a form body
// naming Action and Version, XML answers), CloudWatch Smithy RPC v2 CBOR (POST
// /service/GraniteServiceVersion20100801/operation/…, header Smithy-Protocol: rpc-v2-cbor) and
// CloudWatch Logs awsJson1.1 (header X-Amz-Target: Logs_20140328.…). Every request must be
// SigV4-signed for the right service in Region (any key and signature are accepted) and is checked
// against the operation's Smithy model (required members, enums, lengths, ranges, patterns); a
// request AWS would refuse gets the service's own error in the protocol's own shape.
//
// The account is seeded with two target groups of three healthy targets, two alarms in OK,
// metric series and an application log group, all generated from baselines on the sandbox clock
// (see the constants). Faults (see Faults) change what the account reports from the moment they
// are set.
package fakeaws

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
)

// Region is the only region the sandbox account answers in.
const Region = "us-east-1"

// history is how far back from its start the sandbox has data, so that a deploy made right
// after the sandbox starts can still be compared with the window before it.
const history = 3 * time.Hour

// maxRequestBody bounds what the fake reads of a request.
const maxRequestBody = 1 << 20

// logsTargetPrefix starts the X-Amz-Target of every CloudWatch Logs request.
const logsTargetPrefix = "Logs_20140328."

// Options configures a Server.
type Options struct {
	// Models are the services' Smithy models (LoadModels); required.
	Models *Models
	// Clock is the sandbox clock that generates metrics and log events; the wall clock if nil.
	Clock clock.Clock
	// Faults is the fault timeline, shared with sandbox/fakemonitoring; a new one on Clock if nil.
	Faults *Faults
	// Logger receives a line per refused request; the zero value logs nothing.
	Logger zerolog.Logger
}

// Server is the sandbox AWS endpoint. Create it with New and stop it with Close.
type Server struct {
	clock   clock.Clock
	faults  *Faults
	logger  zerolog.Logger
	started time.Time
	apis    struct{ elb, cloudWatch, logs *api }

	listener  net.Listener
	http      *http.Server
	wg        sync.WaitGroup
	requestID atomic.Int64
}

// api is one AWS service as the fake answers it.
type api struct {
	signingName string // the service in a SigV4 credential scope
	model       *serviceModel
	wire        wire
	// queryErrors: the service names its errors as the awsQuery protocol does (ELBv2 natively,
	// CloudWatch kept them when it moved to CBOR); otherwise as awsJson does.
	queryErrors bool
	// invalidCode is what the service answers a request that breaks its model's constraints.
	invalidCode string
	operations  map[string]operation
}

// operation answers one call. input is the request's decoded value, checked against the
// model and re-encoded as JSON so that the operation can unmarshal it into its own type.
type operation func(input []byte) (output any, err *serviceError)

// New starts a sandbox AWS endpoint on 127.0.0.1 at a free port.
func New(opts Options) (*Server, error) {
	if opts.Models == nil {
		return nil, errors.New("starting the sandbox AWS: no models (see LoadModels)")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Faults == nil {
		opts.Faults = NewFaults(opts.Clock)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the sandbox AWS: %w", err)
	}
	s := &Server{
		clock:    opts.Clock,
		faults:   opts.Faults,
		logger:   opts.Logger,
		started:  opts.Clock.Now(),
		listener: listener,
	}
	s.apis.elb = &api{
		signingName: "elasticloadbalancing",
		model:       opts.Models.elb,
		wire:        queryWire{version: "2015-12-01", xmlns: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"},
		queryErrors: true,
		invalidCode: "ValidationError",
		operations:  map[string]operation{"DescribeTargetHealth": s.describeTargetHealth},
	}
	s.apis.cloudWatch = &api{
		signingName: "monitoring",
		model:       opts.Models.cloudWatch,
		wire:        cborWire{service: "GraniteServiceVersion20100801"},
		queryErrors: true,
		invalidCode: "ValidationError",
		operations: map[string]operation{
			"GetMetricData":  s.getMetricData,
			"DescribeAlarms": s.describeAlarms,
		},
	}
	s.apis.logs = &api{
		signingName: "logs",
		model:       opts.Models.logs,
		wire:        jsonWire{targetPrefix: logsTargetPrefix},
		invalidCode: "InvalidParameterException",
		operations:  map[string]operation{"FilterLogEvents": s.filterLogEvents},
	}
	s.http = &http.Server{Handler: http.HandlerFunc(s.route), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() {
		if err := s.http.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error().Err(err).Msg("sandbox AWS stopped serving")
		}
	})
	return s, nil
}

// URL is the endpoint for AWS_ENDPOINT_URL or aws.Config.BaseEndpoint, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return "http://" + s.listener.Addr().String() }

// Fault turns on the named fault (one of the Fault constants) from now, in the shared timeline.
func (s *Server) Fault(name string) error { return s.faults.Set(name) }

// Clear turns every fault off from now.
func (s *Server) Clear() { s.faults.Clear() }

// Close stops serving and waits for the server's goroutine.
func (s *Server) Close() error {
	err := s.http.Close()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("closing the sandbox AWS: %w", err)
	}
	return nil
}

// route sends a request to the service whose protocol it speaks.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		http.Error(w, "reading the request: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor":
		s.serve(w, r, body, s.apis.cloudWatch)
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), logsTargetPrefix):
		s.serve(w, r, body, s.apis.logs)
	case r.Method == http.MethodPost && mediaType == "application/x-www-form-urlencoded":
		s.serve(w, r, body, s.apis.elb)
	default:
		http.Error(w, "the sandbox AWS answers ELBv2 (awsQuery), CloudWatch (RPC v2 CBOR) and CloudWatch Logs (awsJson1.1) requests only",
			http.StatusBadRequest)
	}
}

// serve answers a request to one service in the service's protocol.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte, a *api) {
	requestID := fmt.Sprintf("00000000-0000-4000-8000-%012d", s.requestID.Add(1))
	output, operationName, failure := a.call(r, body)
	if failure != nil {
		s.logger.Info().Str("service", a.signingName).Str("operation", operationName).
			Str("code", failure.code).Str("message", failure.message).Msg("sandbox AWS refused a request")
		a.wire.writeError(w, requestID, failure)
		return
	}
	a.wire.writeOutput(w, requestID, operationName, output)
}

// call checks the request's signature, operation and input against the service, then runs the
// operation.
func (a *api) call(r *http.Request, body []byte) (output any, operationName string, failure *serviceError) {
	if failure := a.checkSignature(r); failure != nil {
		return nil, "", failure
	}
	operationName, failure = a.wire.operation(r, body)
	if failure != nil {
		return nil, operationName, failure
	}
	inputShape, known := a.model.input(operationName)
	handle, served := a.operations[operationName]
	if !known || !served {
		code := "UnknownOperationException"
		if a.queryErrors {
			code = "InvalidAction"
		}
		return nil, operationName, &serviceError{http.StatusBadRequest, code,
			fmt.Sprintf("the sandbox %s does not serve the operation %q", a.signingName, operationName)}
	}
	input, failure := a.wire.decode(a.model, inputShape, body)
	if failure != nil {
		return nil, operationName, failure
	}
	if problems := a.model.check(inputShape, input); len(problems) > 0 {
		return nil, operationName, a.invalid(validationMessage(problems))
	}
	encoded, err := json.Marshal(input)
	if err != nil {
		return nil, operationName, internalFailure(err)
	}
	output, failure = handle(encoded)
	return output, operationName, failure
}

// invalid is the service's answer to a request that breaks its rules.
func (a *api) invalid(message string) *serviceError {
	return &serviceError{http.StatusBadRequest, a.invalidCode, message}
}

func validationMessage(problems []string) string {
	noun := "error"
	if len(problems) > 1 {
		noun = "errors"
	}
	return fmt.Sprintf("%d validation %s detected: %s", len(problems), noun, strings.Join(problems, "; "))
}

// sigV4Credential is a SigV4 credential scope: key/yyyymmdd/region/service/aws4_request.
var sigV4Credential = regexp.MustCompile(`^[^/]+/(\d{8})/([^/]+)/([^/]+)/aws4_request$`)

var hexSignature = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkSignature accepts any key and signature but requires the Authorization header to have
// SigV4's shape, scoped to this service in Region, as AWS refuses requests that lack it.
func (a *api) checkSignature(r *http.Request) *serviceError {
	refuse := func(queryCode, jsonCode, message string) *serviceError {
		if a.queryErrors {
			return &serviceError{http.StatusForbidden, queryCode, message}
		}
		return &serviceError{http.StatusBadRequest, jsonCode, message}
	}
	authorization := r.Header.Get("Authorization")
	if authorization == "" {
		return refuse("MissingAuthenticationToken", "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	incomplete := func(message string) *serviceError {
		return refuse("IncompleteSignature", "IncompleteSignatureException", message)
	}
	params, ok := strings.CutPrefix(authorization, "AWS4-HMAC-SHA256 ")
	if !ok {
		return incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm")
	}
	fields := map[string]string{}
	for param := range strings.SplitSeq(params, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(param), "=")
		fields[name] = value
	}
	for _, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[name] == "" {
			return incomplete(fmt.Sprintf("Authorization header requires '%s' parameter", name))
		}
	}
	scope := sigV4Credential.FindStringSubmatch(fields["Credential"])
	if scope == nil {
		return incomplete("Credential must have the form key/yyyymmdd/region/service/aws4_request")
	}
	if !hexSignature.MatchString(fields["Signature"]) {
		return incomplete("Signature must be 64 hexadecimal characters")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if _, err := time.Parse("20060102T150405Z", amzDate); err != nil {
		return incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header")
	}
	wrongScope := func(message string) *serviceError {
		return refuse("SignatureDoesNotMatch", "InvalidSignatureException", message)
	}
	date, region, service := scope[1], scope[2], scope[3]
	switch {
	case !strings.HasPrefix(amzDate, date):
		return wrongScope(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", date, amzDate[:8]))
	case region != Region:
		return wrongScope(fmt.Sprintf("Credential should be scoped to a valid region, not '%s'", region))
	case service != a.signingName:
		return wrongScope(fmt.Sprintf("Credential should be scoped to correct service: '%s'", a.signingName))
	}
	return nil
}
