package model

import "errors"

// Sentinels matched by errors.Is on the *Error values this package returns.
var (
	ErrNotFound = errors.New("model: not found")
	ErrConflict = errors.New("model: conflict")
	ErrInvalid  = errors.New("model: invalid")
	ErrQuota    = errors.New("model: quota exceeded")
)

// Error describes why a model operation was refused, with the resource it
// concerns, so that the control plane can answer with CodeArtifact's error
// types and members.
type Error struct {
	Kind         error  // one of the sentinels above
	ResourceType string // "domain", "repository", "package", "package-version", "asset"
	ResourceID   string
	Message      string
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

func notFound(typ, id, msg string) error {
	return &Error{Kind: ErrNotFound, ResourceType: typ, ResourceID: id, Message: msg}
}

func conflict(typ, id, msg string) error {
	return &Error{Kind: ErrConflict, ResourceType: typ, ResourceID: id, Message: msg}
}

func invalid(msg string) error { return &Error{Kind: ErrInvalid, Message: msg} }

func quota(typ, id, msg string) error {
	return &Error{Kind: ErrQuota, ResourceType: typ, ResourceID: id, Message: msg}
}
