package chatflow

//go:generate go run ./internal/cmd/geneffective -spec openapi/chatflow.json -overlay openapi/overlay.yaml -o openapi/effective.json
//go:generate go tool oapi-codegen -config openapi/oapi-codegen.yaml openapi/chatflow.json
//go:generate go run ./internal/cmd/genaliases -table openapi/aliases.yaml -gen gen/chatflow.gen.go -o types.go
//go:generate go run ./internal/cmd/genroutes -spec openapi/chatflow.json -config openapi/oapi-codegen.yaml -o routes_gen.go
//go:generate go run ./internal/cmd/genevents -spec openapi/effective.json -gen gen/chatflow.gen.go -flat StreamEventChatMessage -o events_gen.go
//go:generate go tool oapi-codegen -config openapi/oapi-codegen-workflow.yaml openapi/chatflow.json
//go:generate go tool oapi-codegen -config openapi/oapi-codegen-completion.yaml openapi/chatflow.json
//go:generate go run ./internal/cmd/genroutes -spec openapi/chatflow.json -config openapi/oapi-codegen-workflow.yaml -pkg workflow -o workflow/routes_gen.go
//go:generate go run ./internal/cmd/genroutes -spec openapi/chatflow.json -config openapi/oapi-codegen-completion.yaml -pkg completion -o completion/routes_gen.go
