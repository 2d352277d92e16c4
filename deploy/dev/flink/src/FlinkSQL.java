// FlinkSQL runs Flink SQL in a local mini-cluster (one JVM, the Table API's default executor when
// no cluster is configured): every statement of the file named by its argument but the last is
// executed (CREATE TABLE ...), the last is a query whose result, Flink's changelog of the table,
// is printed one row a line as JSON: {"kind": "+I"|"-U"|"+U"|"-D", "row": [field, ...]}, a
// number or boolean as itself, a DECIMAL and everything else as its text. Built
// by deploy/dev/flink.sh; run by integration/foreign_flink_test.go.
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;

public class FlinkSQL {
	public static void main(String[] args) throws Exception {
		String script = Files.readString(Path.of(args[0]));
		List<String> statements = new ArrayList<>();
		for (String s : script.split(";\\s*(\\n|$)")) {
			if (!s.isBlank()) {
				statements.add(s.strip());
			}
		}
		TableEnvironment env = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
		env.getConfig().set("parallelism.default", "1");
		for (String s : statements.subList(0, statements.size() - 1)) {
			env.executeSql(s).await();
		}
		TableResult result = env.executeSql(statements.get(statements.size() - 1));
		try (CloseableIterator<Row> rows = result.collect()) {
			while (rows.hasNext()) {
				Row row = rows.next();
				StringBuilder b = new StringBuilder("{\"kind\": ");
				quote(b, row.getKind().shortString());
				b.append(", \"row\": [");
				for (int i = 0; i < row.getArity(); i++) {
					if (i > 0) {
						b.append(", ");
					}
					Object v = row.getField(i);
					if (v == null) {
						b.append("null");
					} else if (v instanceof BigDecimal d) {
						// A DECIMAL as its text, scale kept, with no float between.
						quote(b, d.toPlainString());
					} else if (v instanceof Number || v instanceof Boolean) {
						b.append(v);
					} else {
						quote(b, v.toString());
					}
				}
				System.out.println(b.append("]}"));
				System.out.flush();
			}
		}
	}

	private static void quote(StringBuilder b, String s) {
		b.append('"');
		for (char c : s.toCharArray()) {
			switch (c) {
				case '"' -> b.append("\\\"");
				case '\\' -> b.append("\\\\");
				default -> {
					if (c < 0x20) {
						b.append(String.format("\\u%04x", (int) c));
					} else {
						b.append(c);
					}
				}
			}
		}
		b.append('"');
	}
}
