package sigv4

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// botocoreVector is one entry of testdata/botocore_vectors.json, produced by
// testdata/gen_botocore_vectors.py with real botocore.
type botocoreVector struct {
	Name             string      `json:"name"`
	AccessKeyID      string      `json:"access_key_id"`
	SecretAccessKey  string      `json:"secret_access_key"`
	SessionToken     string      `json:"session_token"`
	Region           string      `json:"region"`
	Service          string      `json:"service"`
	Method           string      `json:"method"`
	Host             string      `json:"host"`
	RequestURI       string      `json:"request_uri"`
	Headers          [][2]string `json:"headers"`
	BodyBase64       string      `json:"body_base64"`
	CanonicalRequest string      `json:"canonical_request"`
	StringToSign     string      `json:"string_to_sign"`
}

type botocoreFile struct {
	Generator string           `json:"generator"`
	Timestamp string           `json:"timestamp"`
	Vectors   []botocoreVector `json:"vectors"`
}

func loadBotocoreVectors(t *testing.T) (time.Time, []botocoreVector) {
	t.Helper()
	raw, err := os.ReadFile("testdata/botocore_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f botocoreFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors in testdata/botocore_vectors.json")
	}
	ts, err := time.Parse(amzDateFormat, f.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	return ts, f.Vectors
}

func (v botocoreVector) body(t *testing.T) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v.BodyBase64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// request builds the server-side view of the vector's request, as net/http
// would hand it to a handler.
func (v botocoreVector) request(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	body := v.body(t)
	r := httptest.NewRequest(v.Method, v.RequestURI, bytes.NewReader(body))
	r.Host = v.Host
	for _, h := range v.Headers {
		r.Header.Add(h[0], h[1])
	}
	return r, body
}

func (v botocoreVector) header(name string) string {
	for _, h := range v.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func fixedClock(t time.Time) func() time.Time {
	return func() time.Time { return t }
}
