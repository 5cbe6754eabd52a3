// Package difyroute holds what the client and the fake both need to know
// of how Dify routes a request: which path parameters go through its UUID
// route converter, and which values that converter accepts. A path
// parameter it refuses never reaches the endpoint: the server answers the
// route-level 404.
package difyroute

// uuidParams are the path parameters that Dify routes with its UUID
// converter, in every operation that has them.
var uuidParams = map[string]bool{
	"conversation_id": true, "message_id": true, "variable_id": true,
	"file_id": true, "annotation_id": true, "end_user_id": true, "job_id": true,
}

// UUIDParam reports whether Dify routes the path parameter name with its
// UUID converter. Run, task, workflow and form ids are not.
func UUIDParam(name string) bool { return uuidParams[name] }

// UUIDParams returns the names UUIDParam accepts, in no order.
func UUIDParams() []string {
	names := make([]string, 0, len(uuidParams))
	for n := range uuidParams {
		names = append(names, n)
	}
	return names
}

// IsUUID reports whether s has the shape of a UUID as Dify's route
// converter accepts it: 8-4-4-4-12 hex digits, either case.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
