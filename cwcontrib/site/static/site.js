// The pairs table: sort by any column (header buttons, keyboard operable), filter by facets and text, and keep
// the view in the address (#sort=gap&dir=desc&architecture=vgg16...) so that a link reproduces it. No
// dependencies. Without JavaScript the table is complete, in pair id order, and the controls stay hidden.
(function () {
  "use strict";
  var table = document.getElementById("pairs");
  var form = document.getElementById("filters");
  if (!table || !form) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var count = document.getElementById("count");
  var permalink = document.getElementById("permalink");
  var FILTERS = ["architecture", "dataset", "status", "q"];
  var DEFAULT_SORT = "pair";
  var state = { sort: DEFAULT_SORT, dir: "asc", architecture: "", dataset: "", status: "", diverges: false, q: "" };

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    if (numeric) {
      var number = parseFloat(raw);
      return isNaN(number) ? -Infinity : number;
    }
    return raw.trim().toLowerCase();
  }

  rows.forEach(function (row, i) { row.setAttribute("data-order", String(i)); });

  headers.forEach(function (th) {
    var button = document.createElement("button");
    button.type = "button";
    while (th.firstChild) { button.appendChild(th.firstChild); }
    th.appendChild(button);
    button.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      if (state.sort === key) {
        state.dir = state.dir === "asc" ? "desc" : "asc";
      } else {
        state.sort = key;
        state.dir = th.getAttribute("data-type") === "number" ? "desc" : "asc";
      }
      apply(true);
    });
  });

  function sortRows() {
    var index = -1, numeric = false;
    headers.forEach(function (th, i) {
      if (th.getAttribute("data-key") === state.sort) {
        index = i;
        numeric = th.getAttribute("data-type") === "number";
        th.setAttribute("aria-sort", state.dir === "asc" ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
    if (index < 0) { return; }
    var sign = state.dir === "asc" ? 1 : -1;
    var keyed = rows.map(function (row) {
      return { row: row, value: cellValue(row, index, numeric), order: Number(row.getAttribute("data-order")) };
    });
    keyed.sort(function (a, b) {
      if (a.value < b.value) { return -sign; }
      if (a.value > b.value) { return sign; }
      return a.order - b.order;
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (item) { fragment.appendChild(item.row); });
    tbody.appendChild(fragment);
  }

  function filterRows() {
    var q = state.q.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var keep = (!state.architecture || row.getAttribute("data-architecture") === state.architecture) &&
        (!state.dataset || row.getAttribute("data-dataset") === state.dataset) &&
        (!state.status || row.getAttribute("data-status").split(" ").indexOf(state.status) >= 0) &&
        (!state.diverges || row.getAttribute("data-diverges") === "1") &&
        (!q || row.textContent.toLowerCase().indexOf(q) >= 0);
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    count.textContent = shown === rows.length ? "Showing all " + rows.length + " pairs."
      : "Showing " + shown + " of " + rows.length + " pairs.";
  }

  function toHash() {
    var params = new URLSearchParams();
    if (state.sort !== DEFAULT_SORT || state.dir !== "asc") {
      params.set("sort", state.sort);
      params.set("dir", state.dir);
    }
    FILTERS.forEach(function (name) { if (state[name]) { params.set(name, state[name]); } });
    if (state.diverges) { params.set("diverges", "1"); }
    var text = params.toString();
    return text ? "#" + text : "#";
  }

  function fromHash() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var keys = headers.map(function (th) { return th.getAttribute("data-key"); });
    var sort = params.get("sort");
    state.sort = keys.indexOf(sort) >= 0 ? sort : DEFAULT_SORT;
    state.dir = params.get("dir") === "desc" ? "desc" : "asc";
    FILTERS.forEach(function (name) { state[name] = params.get(name) || ""; });
    state.diverges = params.get("diverges") === "1";
    ["architecture", "dataset", "status"].forEach(function (name) {
      var select = form.elements[name];
      var known = Array.prototype.some.call(select.options, function (o) { return o.value === state[name]; });
      if (!known) { state[name] = ""; }
      select.value = state[name];
    });
    form.elements.q.value = state.q;
    form.elements.diverges.checked = state.diverges;
  }

  function apply(record) {
    sortRows();
    filterRows();
    var hash = toHash();
    permalink.setAttribute("href", hash);
    if (record && window.location.hash !== hash && !(hash === "#" && !window.location.hash)) {
      history.replaceState(null, "", hash === "#" ? window.location.pathname + window.location.search : hash);
    }
  }

  function readForm() {
    ["architecture", "dataset", "status", "q"].forEach(function (name) { state[name] = form.elements[name].value; });
    state.diverges = form.elements.diverges.checked;
    apply(true);
  }

  form.addEventListener("input", readForm);
  form.addEventListener("change", readForm);
  form.addEventListener("submit", function (event) { event.preventDefault(); readForm(); });
  form.addEventListener("reset", function () { window.setTimeout(readForm, 0); });
  window.addEventListener("hashchange", function () { fromHash(); apply(false); });

  form.hidden = false;
  fromHash();
  apply(false);
}());
