import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import { Authorizer, parseChallenges } from "./auth.ts";

test("WWW-Authenticate challenges parse as Docker Hub and distribution send them", () => {
  assertEquals(
    parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
    ),
    [{
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/alpine:pull",
      },
    }],
  );
  assertEquals(parseChallenges('Basic realm="Registry Realm"'), [
    { scheme: "basic", params: { realm: "Registry Realm" } },
  ]);
  assertEquals(
    parseChallenges('Basic realm=x, Bearer realm="http://h/t", error="insufficient_scope"'),
    [
      { scheme: "basic", params: { realm: "x" } },
      { scheme: "bearer", params: { realm: "http://h/t", error: "insufficient_scope" } },
    ],
  );
  assertEquals(parseChallenges('Bearer realm="a\\"b"'), [
    { scheme: "bearer", params: { realm: 'a"b' } },
  ]);
  assertEquals(parseChallenges(""), []);
});

function challenge(h: string): Response {
  return new Response(null, { status: 401, headers: { "www-authenticate": h } });
}

test("bearer tokens are fetched once per scope set and reused until they expire", async () => {
  const calls: string[] = [];
  let life = 300;
  let issued: string | undefined = undefined;
  const a = new Authorizer("r.example", { username: "u", password: "p" }, (url, init) => {
    calls.push(`${url} ${new Headers(init.headers).get("authorization")}`);
    return Promise.resolve(
      Response.json({ token: `t${calls.length}`, expires_in: life, issued_at: issued }),
    );
  });
  a.setChallenge(challenge('Bearer realm="https://auth.example/token",service="svc"'));
  assertEquals(await a.header(["repository:x:pull"]), "Bearer t1");
  assertEquals(await a.header(["repository:x:pull"]), "Bearer t1");
  assertEquals(await a.header(["repository:x:pull,push", "repository:y:pull"]), "Bearer t2");
  assertEquals(await a.header(["repository:y:pull", "repository:x:pull,push"]), "Bearer t2");
  assertEquals(calls, [
    `https://auth.example/token?service=svc&scope=repository%3Ax%3Apull&account=u Basic ${
      btoa("u:p")
    }`,
    `https://auth.example/token?service=svc&scope=repository%3Ax%3Apull%2Cpush&scope=repository%3Ay%3Apull&account=u Basic ${
      btoa("u:p")
    }`,
  ]);
  life = 0; // expires_in below 10 s is raised to 10 s, renewed at 90%
  assertEquals(await a.header(["repository:z:pull"]), "Bearer t3");
  // A 401 for a token drops it from the cache, and a retry is worth it.
  assertEquals(
    await a.unauthorized(challenge('Bearer realm="https://auth.example/token",service="svc"'), [
      "repository:z:pull",
    ], "Bearer t3"),
    true,
  );
  assertEquals(await a.header(["repository:z:pull"]), "Bearer t4");
  // A token issued long enough ago has expired: the next request gets a new one.
  issued = new Date(Date.now() - 400_000).toISOString();
  life = 300;
  assertEquals(await a.header(["repository:e:pull"]), "Bearer t5");
  assertEquals(await a.header(["repository:e:pull"]), "Bearer t6");
});

test("basic auth sends the credential; a refused token request names no secret", async () => {
  const a = new Authorizer(
    "r.example",
    { username: "u", password: "hunter2" },
    () =>
      Promise.resolve(
        Response.json({ errors: [{ code: "UNAUTHORIZED", message: "nope" }] }, { status: 401 }),
      ),
  );
  a.setChallenge(challenge('Basic realm="r"'));
  assertEquals(await a.header([]), `Basic ${btoa("u:hunter2")}`);
  a.setChallenge(challenge('Bearer realm="https://auth.example/token"'));
  const e = await assertRejects(
    () => a.header(["repository:x:pull"]),
    /^authentication to r\.example failed: incorrect username or password \(unauthorized: nope\)$/,
  );
  assertEquals(e.message.includes("hunter2") || e.message.includes(btoa("u:hunter2")), false);
  const anon = new Authorizer("r.example", undefined, () => Promise.resolve(Response.json({})));
  anon.setChallenge(challenge('Basic realm="r"'));
  assertEquals(await anon.header([]), undefined);
  assertEquals(await anon.unauthorized(challenge('Basic realm="r"'), [], undefined), false);
});
