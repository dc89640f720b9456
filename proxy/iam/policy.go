// Package iam is the subset of the AWS IAM policy language that CodeArtifact's
// documentation uses, and its evaluation: identity policies attached to
// principals, and the resource (permissions) policies of domains and
// repositories.
//
// The grammar follows the IAM JSON policy element reference
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html):
// Version, Id, Statement (one or a list) with Sid, Effect, Principal,
// Action / NotAction, Resource / NotResource and Condition. Parsing is
// strict: an element, operator or condition key this package does not
// implement is an error naming it, never silently ignored, because an
// ignored Deny would grant what its author meant to refuse.
//
// Evaluation follows the IAM policy evaluation logic
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
// for principals and resources of one account: an explicit Deny in any
// applicable policy wins; otherwise an Allow in the identity policy or in
// the resource policy allows; otherwise the request is implicitly denied.
package iam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid policy")

// Error is a parse error: where in the document (Statement[1].Resource) and
// what is wrong.
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

func errorf(path, format string, args ...any) error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Kind says where a policy is attached, which decides whether it names
// principals.
type Kind int

const (
	// Identity policies are attached to a principal: they have no
	// Principal element (the principal is the one they are attached to).
	Identity Kind = iota
	// Resource policies are attached to a domain or repository: every
	// statement names the principals it applies to.
	Resource
)

// Effect is a statement's Allow or Deny.
type Effect bool

// Effects.
const (
	Deny  Effect = false
	Allow Effect = true
)

// Policy is a parsed policy document.
type Policy struct {
	Kind       Kind
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid    string
	Effect Effect
	// Principals is nil in identity policies; "*" means everyone.
	Principals []string
	// Actions are "service:pattern" (lower-cased) or "*"; when NotAction is
	// set the statement applies to every action but these.
	Actions   []string
	NotAction bool
	// Resources are ARN patterns or "*"; NotResource inverts them.
	Resources   []string
	NotResource bool
	Conditions  []Condition
}

// Condition is one operator applied to one key: every condition of a
// statement must hold, and a condition holds when the request's value
// matches any of Values (for the negated operators: none of them).
type Condition struct {
	Operator string // as written, e.g. StringLike
	Key      string // lower-cased, e.g. aws:principalarn
	Values   []string
}

// Versions of the policy language IAM accepts.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// MaxDocumentSize bounds a permissions policy document (CodeArtifact's
// PutDomainPermissionsPolicy and PutRepositoryPermissionsPolicy accept up
// to 7168 characters).
const MaxDocumentSize = 7168

// maxParseSize bounds what Parse looks at, so identity policies read from
// files cannot make it allocate without limit.
const maxParseSize = 64 << 10

// Parse reads a policy document strictly. Every problem is an *Error
// wrapping ErrInvalid whose message names the element or value at fault.
func Parse(doc []byte, kind Kind) (*Policy, error) {
	if len(doc) > maxParseSize {
		return nil, errorf("", "the policy document is %d bytes; at most %d are accepted", len(doc), maxParseSize)
	}
	top, err := object(doc, "")
	if err != nil {
		return nil, err
	}
	p := &Policy{Kind: kind}
	for _, k := range top.keys {
		v := top.vals[k]
		switch k {
		case "Version":
			if p.Version, err = str(v, "Version"); err != nil {
				return nil, err
			}
			if p.Version != Version2012 && p.Version != Version2008 {
				return nil, errorf("Version", "%q is not a policy language version (use %q)", p.Version, Version2012)
			}
		case "Id":
			if p.ID, err = str(v, "Id"); err != nil {
				return nil, err
			}
		case "Statement":
			if p.Statements, err = statements(v, kind); err != nil {
				return nil, err
			}
		default:
			return nil, errorf("", "unknown element %q (expected Version, Id, Statement)", k)
		}
	}
	if _, ok := top.vals["Statement"]; !ok {
		return nil, errorf("", "the policy has no Statement element")
	}
	return p, nil
}

// AllowAll is the identity policy of an administrator: every action on every
// resource.
func AllowAll() *Policy {
	return &Policy{Kind: Identity, Version: Version2012, Statements: []Statement{{
		Sid: "Admin", Effect: Allow, Actions: []string{"*"}, Resources: []string{"*"},
	}}}
}

func statements(raw json.RawMessage, kind Kind) ([]Statement, error) {
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, errorf("Statement", "must be an object or a list of objects")
		}
		if len(items) == 0 {
			return nil, errorf("Statement", "the list is empty")
		}
	} else {
		items = []json.RawMessage{raw}
	}
	out := make([]Statement, 0, len(items))
	sids := map[string]bool{}
	for i, item := range items {
		path := "Statement"
		if len(items) > 1 || (len(raw) > 0 && raw[0] == '[') {
			path = fmt.Sprintf("Statement[%d]", i)
		}
		s, err := statement(item, path, kind)
		if err != nil {
			return nil, err
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, errorf(path+".Sid", "%q is used by two statements", s.Sid)
			}
			sids[s.Sid] = true
		}
		out = append(out, s)
	}
	return out, nil
}

var sidRE = regexp.MustCompile(`^[A-Za-z0-9 _-]*$`)

// statement parses one statement. It is long because it is one switch over
// the elements of the grammar.
func statement(raw json.RawMessage, path string, kind Kind) (Statement, error) {
	var s Statement
	obj, err := object(raw, path)
	if err != nil {
		return s, err
	}
	var haveEffect, haveAction, haveResource bool
	for _, k := range obj.keys {
		v, at := obj.vals[k], path+"."+k
		switch k {
		case "Sid":
			if s.Sid, err = str(v, at); err != nil {
				return s, err
			}
			if !sidRE.MatchString(s.Sid) {
				return s, errorf(at, "%q may contain only letters, digits, spaces, '-' and '_'", s.Sid)
			}
		case "Effect":
			e, err := str(v, at)
			if err != nil {
				return s, err
			}
			switch e {
			case "Allow":
				s.Effect = Allow
			case "Deny":
				s.Effect = Deny
			default:
				return s, errorf(at, "%q must be Allow or Deny", e)
			}
			haveEffect = true
		case "Principal":
			if kind == Identity {
				return s, errorf(at, "an identity policy has no Principal element (it applies to the principal it is attached to)")
			}
			if s.Principals, err = principals(v, at); err != nil {
				return s, err
			}
		case "Action", "NotAction":
			if s.Actions, s.NotAction, err = negatable(v, at, k, &haveAction, actions); err != nil {
				return s, err
			}
		case "Resource", "NotResource":
			if s.Resources, s.NotResource, err = negatable(v, at, k, &haveResource, resources); err != nil {
				return s, err
			}
		case "Condition":
			if s.Conditions, err = conditions(v, at); err != nil {
				return s, err
			}
		case "NotPrincipal":
			return s, errorf(at, "NotPrincipal is not supported; use Principal with a Condition on aws:PrincipalArn")
		default:
			return s, errorf(path, "unknown element %q", k)
		}
	}
	switch {
	case !haveEffect:
		return s, errorf(path, "the statement has no Effect")
	case !haveAction:
		return s, errorf(path, "the statement has no Action or NotAction")
	case kind == Resource && s.Principals == nil:
		return s, errorf(path, "a statement of a resource policy needs a Principal")
	case kind == Identity && !haveResource:
		return s, errorf(path, "the statement has no Resource or NotResource")
	case !haveResource:
		// A resource policy's statements apply to the resource they
		// are attached to when they name none.
		s.Resources = []string{"*"}
	}
	return s, nil
}

func principals(raw json.RawMessage, path string) ([]string, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, errorf(path, "%q must be \"*\" or {\"AWS\": ARN or list of ARNs}", star)
		}
		return []string{"*"}, nil
	}
	obj, err := object(raw, path)
	if err != nil {
		return nil, errorf(path, "must be \"*\" or {\"AWS\": ARN or list of ARNs}")
	}
	var out []string
	for _, k := range obj.keys {
		if k != "AWS" {
			return nil, errorf(path, "principal type %q is not supported (only AWS)", k)
		}
		vals, err := strList(obj.vals[k], path+".AWS")
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			p, err := principal(v)
			if err != nil {
				return nil, errorf(path+".AWS", "%v", err)
			}
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errorf(path, "names no principal")
	}
	return out, nil
}

var (
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	principalRE = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):(root|(user|role)(/[\x21-\x7e]*)?/[\w+=,.@-]{1,128})$`)
)

// principal returns the canonical form of a principal: "*", or an IAM ARN;
// a bare account id stands for the account's root ARN, as in IAM.
func principal(v string) (string, error) {
	switch {
	case v == "*":
		return v, nil
	case accountRE.MatchString(v):
		return RootARN(v), nil
	case principalRE.MatchString(v):
		return v, nil
	}
	return "", fmt.Errorf("%q is not a principal ARN (arn:aws:iam::ACCOUNT:root, …:user/NAME or …:role/NAME) nor an account id", v)
}

// RootARN is the ARN that stands for every principal of account.
func RootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

// ValidPrincipalARN reports whether arn names a user or role of an account
// (what an access key can belong to).
func ValidPrincipalARN(arn string) error {
	m := principalRE.FindStringSubmatch(arn)
	if m == nil || m[2] == "root" {
		return fmt.Errorf("%q is not a principal ARN of the form arn:aws:iam::ACCOUNT:user/NAME or arn:aws:iam::ACCOUNT:role/NAME", arn)
	}
	return nil
}

// AccountOf returns the account of a principal ARN, or "".
func AccountOf(arn string) string {
	if m := principalRE.FindStringSubmatch(arn); m != nil {
		return m[1]
	}
	return ""
}

var actionRE = regexp.MustCompile(`^[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+$`)

// negatable reads element k of a statement, one of a pair with a Not form
// (Action or NotAction, Resource or NotResource): a statement has one of
// the two, once; seen records that it had.
func negatable(raw json.RawMessage, at, k string, seen *bool, parse func(json.RawMessage, string) ([]string, error)) (list []string, not bool, err error) {
	base := strings.TrimPrefix(k, "Not")
	if *seen {
		return nil, false, errorf(at, "a statement has %s or Not%s, not both", base, base)
	}
	*seen = true
	list, err = parse(raw, at)
	return list, k != base, err
}

func actions(raw json.RawMessage, path string) ([]string, error) {
	vals, err := strList(raw, path)
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		if v != "*" && !actionRE.MatchString(v) {
			return nil, errorf(path, "%q is not an action (service:Name, * and ? allowed in the name)", v)
		}
		vals[i] = strings.ToLower(v)
	}
	return vals, nil
}

func resources(raw json.RawMessage, path string) ([]string, error) {
	vals, err := strList(raw, path)
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		if err := validResourcePattern(v); err != nil {
			return nil, errorf(path, "%v", err)
		}
	}
	return vals, nil
}

// Condition operators this package implements.
var operators = map[string]bool{
	"StringEquals": true, "StringNotEquals": true,
	"StringEqualsIgnoreCase": true, "StringNotEqualsIgnoreCase": true,
	"StringLike": true, "StringNotLike": true,
	"ArnEquals": true, "ArnNotEquals": true, "ArnLike": true, "ArnNotLike": true,
}

// Condition keys this package implements (lower case: keys are not case
// sensitive in IAM).
var conditionKeys = map[string]bool{"aws:principalarn": true, "aws:principalaccount": true}

func conditions(raw json.RawMessage, path string) ([]Condition, error) {
	ops, err := object(raw, path)
	if err != nil {
		return nil, err
	}
	var out []Condition
	for _, op := range ops.keys {
		at := path + "." + op
		if !operators[op] {
			return nil, errorf(at, "condition operator %q is not supported (supported: StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike, ArnEquals, ArnNotEquals, ArnLike, ArnNotLike)", op)
		}
		keys, err := object(ops.vals[op], at)
		if err != nil {
			return nil, err
		}
		if len(keys.keys) == 0 {
			return nil, errorf(at, "names no condition key")
		}
		for _, k := range keys.keys {
			if !conditionKeys[strings.ToLower(k)] {
				return nil, errorf(at, "condition key %q is not supported (supported: aws:PrincipalArn, aws:PrincipalAccount)", k)
			}
			vals, err := strList(keys.vals[k], at+"."+k)
			if err != nil {
				return nil, err
			}
			out = append(out, Condition{Operator: op, Key: strings.ToLower(k), Values: vals})
		}
	}
	return out, nil
}

// obj is a JSON object with its keys in document order.
type obj struct {
	keys []string
	vals map[string]json.RawMessage
}

// object decodes a JSON object, refusing duplicate keys and trailing data.
func object(raw []byte, path string) (obj, error) {
	o := obj{vals: map[string]json.RawMessage{}}
	what := "the policy document"
	if path != "" {
		what = path
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return o, errorf(path, "%s must be a JSON object", what)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return o, errorf(path, "%s is not valid JSON: %v", what, err)
		}
		k := tok.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return o, errorf(path, "%s is not valid JSON: %v", what, err)
		}
		if _, dup := o.vals[k]; dup {
			return o, errorf(path, "element %q appears twice", k)
		}
		o.keys = append(o.keys, k)
		o.vals[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return o, errorf(path, "%s is not valid JSON: %v", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return o, errorf(path, "%s has data after its end", what)
	}
	return o, nil
}

func str(raw json.RawMessage, path string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errorf(path, "must be a string")
	}
	return s, nil
}

// strList reads a string or a non-empty list of strings.
func strList(raw json.RawMessage, path string) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errorf(path, "must be a string or a list of strings")
	}
	if len(many) == 0 {
		return nil, errorf(path, "the list is empty")
	}
	return many, nil
}
