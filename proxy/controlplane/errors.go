package controlplane

import "fmt"

// Error is a control-plane error in CodeArtifact's terms: the type the AWS
// CLI prints, the HTTP status, and the extra members of the body.
type Error struct {
	Type         string // ValidationException, ResourceNotFoundException, ...
	Status       int
	Message      string
	Reason       string // ValidationException's reason
	ResourceID   string
	ResourceType string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func validation(format string, args ...any) *Error {
	return &Error{Type: "ValidationException", Status: 400, Message: fmt.Sprintf(format, args...), Reason: "FIELD_VALIDATION_FAILED"}
}

func notFound(typ, id, format string, args ...any) *Error {
	return &Error{Type: "ResourceNotFoundException", Status: 404, Message: fmt.Sprintf(format, args...), ResourceType: typ, ResourceID: id}
}
