#!/usr/bin/env python3
"""Discovers and calls a running Cairn server with a stock gRPC client
(grpcio + reflection, no generated code): lists the services of every
listener, checks health, and calls DirectoryService.ListCells and
ResolveCountry through descriptors fetched by reflection.

    pip install grpcio grpcio-reflection grpcio-health-checking protobuf
    python3 scripts/stock-grpc-client.py [directory-address]
"""
import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def explore(address):
    channel = grpc.insecure_channel(address)
    database = ProtoReflectionDescriptorDatabase(channel)
    services = sorted(database.get_services())
    print(f"{address}: {', '.join(services)}")
    health = health_pb2_grpc.HealthStub(channel)
    for name in services:
        if name.startswith("cairn."):
            status = health.Check(health_pb2.HealthCheckRequest(service=name)).status
            assert status == health_pb2.HealthCheckResponse.SERVING, (name, status)
    return channel, descriptor_pool.DescriptorPool(database)


def call(channel, pool, method_path, **fields):
    service_name, method_name = method_path.rsplit("/", 1)
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    rpc = channel.unary_unary(
        f"/{service_name}/{method_name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    return rpc(request_class(**fields))


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:7400"
    channel, pool = explore(directory)
    cells = call(channel, pool, "cairn.directory.v1.DirectoryService/ListCells").cells
    for cell in cells:
        print(f"region {cell.region}: {cell.endpoint}")
        explore(cell.endpoint.removeprefix("http://"))
    home = call(channel, pool, "cairn.directory.v1.DirectoryService/ResolveCountry", country="IE").cell
    print(f"a company in IE is homed at {home.endpoint}")
    try:
        call(channel, pool, "cairn.directory.v1.DirectoryService/ResolveCountry", country="XX")
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
        print(f"bad country refused: {err.details()}")


if __name__ == "__main__":
    main()
