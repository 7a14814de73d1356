# A misbehaving "isol8 server" for the remote client's fault tests: /health answers 200, and every
# other request gets the fault named on the command line. Loopback only.
#   fake_server.py <port> not-json | huge | dies-mid-stream | slow
#   fake_server.py <port> tls <cert-chain.pem> <key.pem>: HTTPS, and /execute answers a result
import socket
import ssl
import sys
import time

port, mode = int(sys.argv[1]), sys.argv[2]
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(16)
if mode == "tls":
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    listener = context.wrap_socket(listener, server_side=True)
print("ready", flush=True)


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            want = int(line.split(b":")[1])
            while len(body) < want:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
    return head


while True:
    try:
        conn, _ = listener.accept()
    except (ssl.SSLError, OSError):
        continue  # a client that refused the certificate

    head = read_request(conn)
    first = head.split(b"\r\n")[0]
    try:
        if first.startswith(b"GET /health"):
            body = b'{"status":"ok","version":"0.0.0"}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        elif first.startswith(b"GET /execute/ws"):
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        elif mode == "not-json":
            body = b"<html>surprise</html>"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        elif mode == "huge":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 3000000000\r\nConnection: close\r\n\r\n")
            try:
                while True:
                    conn.sendall(b" " * 65536)
            except OSError:
                pass
        elif mode == "dies-mid-stream":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Connection: close\r\n\r\n"
                         b'data: {"type":"stdout","data":"partial\\n","phase":"code"}\n\n')
        elif mode == "tls":
            body = (b'{"stdout":"over tls","stderr":"","exitCode":0,"durationMs":1,'
                    b'"truncated":false}')
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        elif mode == "slow":
            time.sleep(3600)
    except OSError:
        pass
    conn.close()
