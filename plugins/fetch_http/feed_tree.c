/*
 * Building one bounded subtree from SAX2 events (see feed_tree.h). The nodes are what
 * libxml2's own tree builder (SAX2.c) would make for the same events — element names, their
 * namespaces, attributes whose entity references stay reference nodes, text, unexpanded
 * entity references — so the element handlers read them exactly as they read a whole
 * document's tree before.
 */
#include "feed_tree.h"

#include <errno.h>
#include <string.h>

/* What a node costs: its structure, the allocator's overhead, and the bytes it holds. */
#define NODE_COST (sizeof(xmlNode) + 32)
#define ATTR_COST (sizeof(xmlAttr) + NODE_COST + 16)

void fm_tree_init(struct feed_tree *t, size_t max_cost)
{
	memset(t, 0, sizeof(*t));
	t->max_cost = max_cost;
}

/* Spend n bytes of the bound; false (and the tree is cut) when they are not there. */
static bool spend(struct feed_tree *t, size_t n)
{
	if (t->cut || n > t->max_cost - t->cost) {
		t->cut = true;
		return false;
	}
	t->cost += n;
	return true;
}

static void link_child(xmlNodePtr parent, xmlNodePtr n)
{
	n->parent = parent;
	if (parent->last) {
		parent->last->next = n;
		n->prev = parent->last;
	} else {
		parent->children = n;
	}
	parent->last = n;
}

static void flush_text(struct feed_tree *t)
{
	if (!t->text.len || !t->cur)
		return;
	xmlNodePtr n = xmlNewDocTextLen(t->doc, BAD_CAST fm_buf_str(&t->text), (int)t->text.len);
	if (n)
		link_child(t->cur, n);
	fm_buf_truncate(&t->text, 0);
}

/* The namespace (uri, prefix) in scope at node n, or NULL when no element of the subtree
 * declares it yet. */
static xmlNsPtr lookup_ns(struct feed_tree *t, xmlNodePtr n, const xmlChar *uri,
                          const xmlChar *prefix)
{
	if (xmlStrEqual(uri, XML_XML_NAMESPACE))
		return xmlSearchNsByHref(t->doc, n, uri); /* predeclared, held by the document */
	for (xmlNodePtr p = n; p; p = p->parent)
		for (xmlNsPtr ns = p->nsDef; ns; ns = ns->next)
			if (xmlStrEqual(ns->href, uri) && xmlStrEqual(ns->prefix, prefix))
				return ns;
	return NULL;
}

static size_t ns_cost(const xmlChar *uri)
{
	return sizeof(xmlNs) + 32 + (size_t)xmlStrlen(uri);
}

/* Declare (uri, prefix) on n. libxml2's xmlNewNs refuses a second declaration of one prefix
 * on one element; such a namespace is kept aside and freed with the tree. */
static xmlNsPtr declare_ns(struct feed_tree *t, xmlNodePtr n, const xmlChar *uri,
                           const xmlChar *prefix)
{
	xmlNsPtr ns = xmlNewNs(n, uri, prefix);
	if (!ns && (ns = xmlNewNs(NULL, uri, prefix)) != NULL) {
		ns->next = t->spare_ns;
		t->spare_ns = ns;
	}
	return ns;
}

/* The namespace for a name of n: found in scope, or declared when the bound allows. */
static xmlNsPtr find_ns(struct feed_tree *t, xmlNodePtr n, const xmlChar *uri,
                        const xmlChar *prefix)
{
	xmlNsPtr ns = lookup_ns(t, n, uri, prefix);
	if (ns || !spend(t, ns_cost(uri)))
		return ns;
	return declare_ns(t, n, uri, prefix);
}

/* "prefix:local" for a prefix that was never declared, as libxml2 names such nodes. */
static const xmlChar *qname(const xmlChar *local, const xmlChar *prefix, const xmlChar *uri,
                            xmlChar *buf, int len)
{
	if (!prefix || uri)
		return local;
	const xmlChar *q = xmlBuildQName(local, prefix, buf, len);
	return q ? q : local;
}

static void free_qname(const xmlChar *q, const xmlChar *local, const xmlChar *buf)
{
	if (q != local && q != buf)
		xmlFree((xmlChar *)q);
}

/* An attribute value keeps its entity references as reference nodes, as libxml2's builder
 * does (SAX2.c, xmlSAX2AttributeNs), so xmlGetProp expands them the same way. */
static int add_attribute(struct feed_tree *t, xmlNodePtr n, const xmlChar **a)
{
	const xmlChar *local = a[0], *prefix = a[1], *uri = a[2], *value = a[3];
	int vlen = (int)(a[4] - a[3]);
	if (!spend(t, ATTR_COST + (size_t)vlen))
		return 0;
	xmlChar buf[64];
	const xmlChar *name = qname(local, prefix, uri, buf, sizeof(buf));
	xmlNsPtr ns = uri ? find_ns(t, n, uri, prefix) : NULL;
	xmlAttrPtr attr = xmlNewNsProp(n, ns, name, NULL);
	free_qname(name, local, buf);
	if (!attr)
		return -ENOMEM;
	xmlNodePtr kids = memchr(value, '&', (size_t)vlen)
	                          ? xmlStringLenGetNodeList(t->doc, value, vlen)
	                          : xmlNewDocTextLen(t->doc, value, vlen);
	attr->children = kids;
	for (xmlNodePtr k = kids; k; k = k->next) {
		k->parent = (xmlNodePtr)attr;
		attr->last = k;
	}
	return 0;
}

int fm_tree_start(struct feed_tree *t, xmlDocPtr doc, const xmlChar *localname,
                  const xmlChar *prefix, const xmlChar *uri, int nb_attributes, int nb_defaulted,
                  const xmlChar **attributes)
{
	if (t->root && !t->cur)
		return 0; /* the root was closed: nothing more belongs to this subtree */
	flush_text(t);
	t->doc = doc;
	/* the element and its namespace are paid for together, so an element is never added
	 * without the namespace that tells what it is */
	xmlNsPtr ns = uri && t->cur ? lookup_ns(t, t->cur, uri, prefix) : NULL;
	if (!spend(t, NODE_COST + (uri && !ns ? ns_cost(uri) : 0)))
		return 0;
	xmlChar buf[64];
	const xmlChar *name = qname(localname, prefix, uri, buf, sizeof(buf));
	xmlNodePtr n = xmlNewDocNode(doc, NULL, name, NULL);
	free_qname(name, localname, buf);
	if (!n)
		return -ENOMEM;
	if (t->cur)
		link_child(t->cur, n);
	else
		t->root = n;
	t->cur = n;
	if (uri)
		n->ns = ns ? ns : declare_ns(t, n, uri, prefix);
	/* attributes the DTD defaults are left out, as libxml2 does without XML_PARSE_DTDATTR */
	for (int i = 0; i < nb_attributes - nb_defaulted; i++)
		if (add_attribute(t, n, attributes + 5 * i) < 0)
			return -ENOMEM;
	return 0;
}

void fm_tree_end(struct feed_tree *t)
{
	if (t->cut || !t->cur)
		return; /* after a cut, elements were not opened either */
	flush_text(t);
	t->cur = t->cur->parent;
}

void fm_tree_text(struct feed_tree *t, const char *s, size_t n)
{
	if (!t->cur)
		return;
	/* a text node is made once per run of character data, so it is paid for on arrival */
	if (!t->text.len && !spend(t, NODE_COST))
		return;
	if (spend(t, n))
		fm_buf_append(&t->text, s, n);
}

void fm_tree_reference(struct feed_tree *t, const xmlChar *name)
{
	if (!t->cur)
		return;
	flush_text(t);
	if (!spend(t, NODE_COST))
		return;
	xmlNodePtr n = xmlNewReference(t->doc, name);
	if (n)
		link_child(t->cur, n);
}

xmlNodePtr fm_tree_finish(struct feed_tree *t)
{
	flush_text(t);
	return t->root;
}

void fm_tree_reset(struct feed_tree *t)
{
	if (t->root)
		xmlFreeNode(t->root);
	if (t->spare_ns)
		xmlFreeNsList(t->spare_ns);
	t->root = t->cur = NULL;
	t->spare_ns = NULL;
	t->cost = 0;
	t->cut = false;
	fm_buf_truncate(&t->text, 0);
}

void fm_tree_fini(struct feed_tree *t)
{
	fm_tree_reset(t);
	fm_buf_free(&t->text);
}
