// The default entry speaks the JSON protocol (the Protobuf one is centrifuge/build/protobuf).
export { Centrifuge } from "centrifuge"
