package chatflow

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config openapi/oapi-codegen.yaml openapi/chatflow.json
//go:generate go run ./internal/cmd/genroutes -spec openapi/chatflow.json -config openapi/oapi-codegen.yaml -o routes_gen.go
