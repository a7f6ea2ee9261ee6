"""Build an ipynb from a light text format. Cells start with lines:
%% md | %% code | %% hidden | %% fig NAME | CAPTION | ALT | %% ignore (nbval-ignore-output)"""
import sys, json, nbformat
src, dst = sys.argv[1], sys.argv[2]
cells, cur = [], None
for line in open(src).read().split("\n"):
    if line.startswith("%% "):
        if cur: cells.append(cur)
        cur = [line[3:].strip(), []]
    else:
        cur[1].append(line)
cells.append(cur)
nb = nbformat.v4.new_notebook()
nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
  "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
  "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3"}}
for head, lines in cells:
    text = "\n".join(lines).strip("\n")
    kind = head.split()[0]
    if kind == "md":
        nb.cells.append(nbformat.v4.new_markdown_cell(text))
        continue
    c = nbformat.v4.new_code_cell(text)
    if kind == "hidden":
        c.metadata["tags"] = ["remove-cell"]
    elif kind == "ignore":
        c.metadata["tags"] = ["nbval-ignore-output"]
    elif kind == "fig":
        name, cap, alt = [s.strip() for s in head[4:].split("|")]
        c.metadata["mystnb"] = {"figure": {"name": name, "caption": cap}, "image": {"alt": alt}}
    nb.cells.append(c)
for i, c in enumerate(nb.cells):
    c["id"] = f"cell-{i:03d}"
nbformat.write(nb, dst)
