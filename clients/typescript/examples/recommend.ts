// Asks the bookshop's recommendations service for books over gRPC, using @bookshop/protos and
// @connectrpc/connect-node's gRPC transport, and prints them one per line as "<id>\t<title>".
//
//   node dist/recommend.js --category mystery [--reader reader-1] [--page-size 10]
//                          [--target 127.0.0.1:50051] [--timeout-ms 2000]
//                          [--ca ca.pem [--cert client.pem --key client-key.pem]]
//
// --ca turns TLS on (the server's certificate must be signed by that CA); --cert and --key add a
// client certificate, for a server that requires mutual TLS. A failed call prints one line naming
// its gRPC status (e.g. "error: InvalidArgument: ...") and exits 1; a bad option exits 2.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  BookCategory,
  RecommendationsService,
} from "@bookshop/protos/bookshop/recommendations/v2/recommendations_pb.js";

const USAGE =
  "usage: recommend.js --category NAME [--reader ID] [--page-size N] [--target HOST:PORT] " +
  "[--timeout-ms MS] [--ca PEM [--cert PEM --key PEM]]";

/** The category names the command line accepts: the enum's, spelled "science-fiction". */
function categoryNames(): Map<string, BookCategory> {
  const names = new Map<string, BookCategory>();
  for (const [key, value] of Object.entries(BookCategory)) {
    if (typeof value === "number") {
      names.set(key.toLowerCase().replaceAll("_", "-"), value);
    }
  }
  return names;
}

// The request's fields are int32, and so is the largest timer Node accepts.
const INT32_MAX = 2 ** 31 - 1;

function integer(option: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < minimum || value > INT32_MAX) {
    throw new Error(
      `--${option} is '${text}'; expected a whole number from ${minimum} to ${INT32_MAX}`,
    );
  }
  return value;
}

function pem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`--${option}: cannot read '${path}' (${(error as Error).message})`);
  }
}

/** The call and its connection, from the command line; throws an Error naming a bad option. */
function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      category: { type: "string" },
      reader: { type: "string", default: "reader-1" },
      "page-size": { type: "string", default: "0" },
      target: { type: "string", default: "127.0.0.1:50051" },
      "timeout-ms": { type: "string", default: "2000" },
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
    },
    strict: true,
  });
  const categories = categoryNames();
  const category = categories.get(values.category ?? "");
  if (category === undefined) {
    const accepted = [...categories.keys()].join(", ");
    throw new Error(`--category is '${values.category ?? ""}'; expected one of ${accepted}`);
  }
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new Error("--cert and --key go together: the client's certificate and its key");
  }
  if (values.cert !== undefined && values.ca === undefined) {
    throw new Error("--cert and --key need --ca: a client certificate is only sent over TLS");
  }
  if (!/^[^/:\s]+:\d+$/.test(values.target)) {
    throw new Error(`--target is '${values.target}'; expected HOST:PORT, e.g. 127.0.0.1:50051`);
  }
  return {
    request: {
      readerId: values.reader,
      category,
      pageSize: integer("page-size", values["page-size"], 0),
    },
    target: values.target,
    timeoutMs: integer("timeout-ms", values["timeout-ms"], 1),
    tls:
      values.ca === undefined
        ? undefined
        : {
            ca: pem("ca", values.ca),
            cert: values.cert === undefined ? undefined : pem("cert", values.cert),
            key: values.key === undefined ? undefined : pem("key", values.key),
          },
  };
}

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parse(argv);
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const transport = createGrpcTransport({
    baseUrl: `${options.tls === undefined ? "http" : "https"}://${options.target}`,
    nodeOptions: options.tls,
  });
  const client = createClient(RecommendationsService, transport);
  try {
    // The deadline travels with the call (grpc-timeout), so the server stops working on it too.
    const response = await client.recommend(options.request, { timeoutMs: options.timeoutMs });
    for (const book of response.books) {
      console.log(`${book.id}\t${book.title}`);
    }
    return 0;
  } catch (error) {
    const failure = ConnectError.from(error);
    console.error(`error: ${Code[failure.code]}: ${failure.rawMessage}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
