/*
 * Sample backend behind mod_jpki: Java, a reverse-proxied application.
 *
 * Run it with the JDK alone (single-file source launch, JDK 11+):
 *     java Whoami.java 8080            # listens on 127.0.0.1:8080 only
 * and let httpd proxy to it with the identity as request headers:
 *     <Location /app/>
 *         AuthType JPKI
 *         JPKILoginPage /jpki-login/
 *         Require valid-user
 *         JPKIPassIdentityAs headers
 *         ProxyPass http://127.0.0.1:8080/
 *     </Location>
 *
 * Rules that keep this safe (docs/variables.md, docs/integration.md section 8):
 * - Trust X-Remote-User / X-JPKI-* only because mod_jpki removes any copy the
 *   client sent and sets its own. That holds only if nothing but that httpd
 *   can reach this port: listen on loopback (or a private interface behind a
 *   firewall), and accept connections from the front end's address only.
 * - Exactly one value per header; no header means no login: refuse, never
 *   fall back to a default user.
 * - Values may be percent-encoded (non-ASCII, control bytes, '%'): decode
 *   %XX as UTF-8, and do not use a form decoder (it turns '+' into a space).
 * - The header names follow JPKIHeaderPrefix / JPKIRemoteUserHeader; change
 *   the constants below if the site changed those directives.
 */
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

public class Whoami {
    static final String USER_HEADER = "X-Remote-User"; // JPKIRemoteUserHeader
    static final String PREFIX = "X-JPKI-";            // JPKIHeaderPrefix

    public static void main(String[] args) throws IOException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8080;
        // the front end's address: the only peer whose headers are believed
        InetAddress front = InetAddress.getByName(args.length > 1 ? args[1] : "127.0.0.1");
        HttpServer server = HttpServer.create(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        server.createContext("/", ex -> handle(ex, front));
        server.start();
        System.out.println("Whoami listening on 127.0.0.1:" + port);
    }

    static void handle(HttpExchange ex, InetAddress front) throws IOException {
        String account = null, serial = null, method = null, status = null;
        if (ex.getRemoteAddress().getAddress().equals(front)) {
            account = one(ex, USER_HEADER);
            serial = one(ex, PREFIX + "Cert-Serial");
            method = one(ex, PREFIX + "Auth-Method");
            status = one(ex, PREFIX + "Status");
        }
        if (account == null || account.isEmpty()) {
            reply(ex, 403, "no identity from mod_jpki\n");
            return;
        }
        reply(ex, 200, "backend: java\naccount: " + account + "\nserial: " + orEmpty(serial)
                           + "\nmethod: " + orEmpty(method) + "\nstatus: " + orEmpty(status) + "\n");
    }

    /** The header's single value, percent-decoded; null if absent, repeated or badly encoded. */
    static String one(HttpExchange ex, String name) {
        List<String> values = ex.getRequestHeaders().get(name);
        if (values == null || values.size() != 1)
            return null;
        return percentDecode(values.get(0));
    }

    static String percentDecode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] in = s.getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 0; i < in.length; i++) {
            if (in[i] != '%') {
                out.write(in[i]);
                continue;
            }
            if (i + 2 >= in.length)
                return null;
            int hi = Character.digit(in[i + 1], 16), lo = Character.digit(in[i + 2], 16);
            if (hi < 0 || lo < 0)
                return null;
            out.write(hi * 16 + lo);
            i += 2;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    static String orEmpty(String s) { return s == null ? "" : s; }

    static void reply(HttpExchange ex, int code, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.sendResponseHeaders(code, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }
}
