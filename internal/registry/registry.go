// Package registry loads models from an MLflow model registry over its REST API: it resolves an
// alias such as models:/fraud-detector@champion to a model version, downloads the version's
// model.txt and metadata.json, and checks them with model.Parse before anyone scores with them.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"function/internal/model"
)

// Scheme prefixes a registry model URI: models:/<name>@<alias>.
const Scheme = "models:/"

// DefaultTimeout bounds one REST call, download included.
const DefaultTimeout = 30 * time.Second

// maxArtifactBytes bounds a downloaded artifact: a model dump far larger than this is not ours.
const maxArtifactBytes = 256 << 20

// ErrUnavailable marks a transient failure: the registry is unreachable, answered 5xx, or the
// alias is not set yet. The caller keeps its current model and tries again later.
var ErrUnavailable = errors.New("model registry unavailable")

// URI names a registered model by alias.
type URI struct {
	Name  string
	Alias string
}

func (u URI) String() string { return Scheme + u.Name + "@" + u.Alias }

// ParseURI parses models:/<name>@<alias>. Version numbers (models:/name/3) are refused: the
// function follows an alias, it does not pin a version.
func ParseURI(s string) (URI, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return URI{}, fmt.Errorf("model uri %q: want %s<name>@<alias>", s, Scheme)
	}
	name, alias, ok := strings.Cut(rest, "@")
	if !ok || name == "" || alias == "" || strings.ContainsAny(name, "/@") || strings.ContainsAny(alias, "/@") {
		return URI{}, fmt.Errorf("model uri %q: want %s<name>@<alias>", s, Scheme)
	}
	return URI{Name: name, Alias: alias}, nil
}

// Version is the part of MLflow's ModelVersion the function needs.
type Version struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	RunID   string `json:"run_id"`
	Status  string `json:"status"`
}

// Client talks to one MLflow tracking server.
type Client struct {
	base    *url.URL
	http    *http.Client
	timeout time.Duration
	auth    func(*http.Request)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (transport, TLS).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTimeout bounds each call (DefaultTimeout otherwise).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithBearerToken authenticates as MLflow's MLFLOW_TRACKING_TOKEN does.
func WithBearerToken(token string) Option {
	return func(c *Client) { c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) } }
}

// WithBasicAuth authenticates as MLFLOW_TRACKING_USERNAME/PASSWORD do.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) { c.auth = func(r *http.Request) { r.SetBasicAuth(user, password) } }
}

// New returns a client for the tracking server at trackingURI (http or https).
func New(trackingURI string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(trackingURI, "/"))
	if err != nil {
		return nil, fmt.Errorf("mlflow tracking uri: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mlflow tracking uri %q: want http(s)://host[:port][/path]", trackingURI)
	}
	c := &Client{base: u, http: http.DefaultClient, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Resolve looks up the version an alias points at
// (GET /api/2.0/mlflow/registered-models/alias).
func (c *Client) Resolve(ctx context.Context, u URI) (Version, error) {
	q := url.Values{"name": {u.Name}, "alias": {u.Alias}}
	body, err := c.get(ctx, "/api/2.0/mlflow/registered-models/alias", q)
	if err != nil {
		return Version{}, fmt.Errorf("resolve %s: %w", u, err)
	}
	var resp struct {
		ModelVersion Version `json:"model_version"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return Version{}, fmt.Errorf("resolve %s: %w: decode reply: %v", u, ErrUnavailable, err)
	}
	if resp.ModelVersion.Version == "" {
		return Version{}, fmt.Errorf("resolve %s: %w: reply has no model version", u, ErrUnavailable)
	}
	return resp.ModelVersion, nil
}

// Artifact downloads one file of a model version through the server, whatever store holds it
// (GET /model-versions/get-artifact, the endpoint MLflow's own UI uses).
func (c *Client) Artifact(ctx context.Context, v Version, path string) ([]byte, error) {
	q := url.Values{"name": {v.Name}, "version": {v.Version}, "path": {path}}
	body, err := c.get(ctx, "/model-versions/get-artifact", q)
	if err != nil {
		return nil, fmt.Errorf("download %s of %s version %s: %w", path, v.Name, v.Version, err)
	}
	return body, nil
}

// Fetch downloads and checks the model of version v. Its Meta.Version is set to the registry's
// version number, so predictions and metrics name the version MLflow shows. A bundle that does
// not parse or does not match its checksum is an error wrapping model.ErrInvalid.
func (c *Client) Fetch(ctx context.Context, v Version) (*model.Model, error) {
	txt, err := c.Artifact(ctx, v, model.ModelFile)
	if err != nil {
		return nil, err
	}
	meta, err := c.Artifact(ctx, v, model.MetadataFile)
	if err != nil {
		return nil, err
	}
	m, err := model.Parse(txt, meta)
	if err != nil {
		return nil, fmt.Errorf("%s version %s: %w", v.Name, v.Version, err)
	}
	m.Meta.Version = v.Version
	return m, nil
}

// get performs one GET and returns the body of a 200 reply. Network failures, 5xx, 429 and 404
// (an alias not yet set, an artifact not yet uploaded) wrap ErrUnavailable.
func (c *Client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxArtifactBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read reply: %v", ErrUnavailable, err)
	}
	if len(body) > maxArtifactBytes {
		return nil, fmt.Errorf("%w: reply larger than %d bytes", model.ErrInvalid, maxArtifactBytes)
	}
	if resp.StatusCode != http.StatusOK {
		code, msg := mlflowError(body)
		if code != "" {
			msg = code + ": " + msg
		}
		// An alias not set yet is 400 INVALID_PARAMETER_VALUE "... alias champion not found." in
		// MLflow 3 (RESOURCE_DOES_NOT_EXIST elsewhere): the champion may be promoted later.
		notYet := code == "RESOURCE_DOES_NOT_EXIST" || (code == "INVALID_PARAMETER_VALUE" && strings.Contains(msg, "not found"))
		if notYet || resp.StatusCode >= 500 || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusTooManyRequests {
			return nil, fmt.Errorf("%w: HTTP %d: %s", ErrUnavailable, resp.StatusCode, msg)
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	return body, nil
}

// mlflowError extracts MLflow's {"error_code","message"}, or gives a short prefix of another body
// as the message.
func mlflowError(body []byte) (code, msg string) {
	var e struct {
		Code    string `json:"error_code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		return e.Code, e.Message
	}
	const max = 200
	if len(body) > max {
		body = body[:max]
	}
	return "", strings.TrimSpace(string(body))
}
